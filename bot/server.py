"""Run a WSGI app under gunicorn (a production server, not a development one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication


class GunicornServer(BaseApplication):
    """Gunicorn, configured from code. `factory` runs in each worker after the fork, so every
    worker gets its own database connections."""

    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.factory()


JSON_LOGS = {
    "formatters": {
        "generic": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    }
}


def serve(
    factory: Callable[[], Any],
    *,
    port: int,
    workers: int,
    threads: int = 4,
    json_logs: bool = False,
) -> None:
    """Serve under gunicorn; with `json_logs`, gunicorn's own lines are JSON objects too."""
    GunicornServer(
        factory,
        {
            **({"logconfig_dict": JSON_LOGS} if json_logs else {}),
            "bind": f"0.0.0.0:{port}",
            "workers": workers,
            # gthread, with a deadline on reading each request (slow clients)
            "worker_class": "bot.web_worker.DeadlineThreadWorker",
            "threads": threads,
            "timeout": 30,
            "graceful_timeout": 10,
            "keepalive": 5,
            "errorlog": "-",
            "loglevel": "info",
            "proc_name": "slabot-web",
        },
    ).run()
