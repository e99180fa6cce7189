"""The long-running processes: `serve` (web), `clock`, `run` (Socket Mode, both), and
`db upgrade` (the release phase)."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from bot.cli.common import (
    CliError,
    configure_logging,
    err,
    open_engine,
    out,
    refuse_private_database,
)
from bot.settings import Settings


def serve(
    with_clock: Annotated[
        bool,
        typer.Option(
            "--with-clock",
            help="Also run the clock (digests, breach scan, delivery) beside the web "
            "workers, for an install with one process (one dyno).",
        ),
    ] = False,
) -> None:
    """The web process: Bolt over HTTP on $PORT (POST /slack/events, GET /healthz)."""
    from bot.app import build_app
    from bot.server import serve as run_server
    from bot.web import create_web_app

    settings = Settings()
    settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    configure_logging()
    open_engine(settings).dispose()  # migrate (or refuse) once, before the workers fork

    def factory():
        engine = open_engine(settings, migrate_embedded=False, serving=True)
        return create_web_app(build_app(settings, engine), engine, settings)

    clock = _clock_beside() if with_clock else None
    try:
        run_server(
            factory,
            port=settings.port,
            workers=settings.web_concurrency,
            json_logs=settings.log_format == "json",
        )
    finally:
        if clock is not None:
            _stop_child(clock)


CLOCK_STARTS_WITHIN = 5  # seconds in which a clock that cannot run says so and exits


def _clock_beside():
    """`slabot clock` as a child process (its own scheduler threads never meet gunicorn's
    forks). A clock that refuses to start (a second one on SQLite) stops `serve` too."""
    import subprocess

    child = subprocess.Popen([sys.executable, "-m", "bot", "clock"])
    try:
        code = child.wait(timeout=CLOCK_STARTS_WITHIN)
    except subprocess.TimeoutExpired:
        return child
    raise typer.Exit(code or 1)  # the clock has said why, in one line


def _stop_child(child) -> None:
    import subprocess

    from bot.scheduler import STOP_GRACE

    child.terminate()
    try:
        child.wait(timeout=STOP_GRACE + 5)
    except subprocess.TimeoutExpired:
        child.kill()


def run() -> None:
    """Everything in one process over Socket Mode: the listeners and the clock's jobs.

    Needs SLACK_APP_TOKEN. The clock's jobs are the digests, the breach scan and delivery;
    SIGTERM lets the work in hand finish."""
    import signal
    import threading

    from bot.app import build_app
    from bot.scheduler import start_background_clock
    from bot.slack.socket_mode import PromptSocketModeHandler
    from storage.clock import ClockAlreadyRunning

    settings = Settings()
    settings.require("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
    configure_logging()
    engine = open_engine(settings, serving=True)
    app = build_app(settings, engine, socket_mode=True)
    try:
        clock = start_background_clock(settings, engine)
    except ClockAlreadyRunning as error:
        err.print(f"slabot: {error}", markup=False)
        raise typer.Exit(1) from error
    handler = PromptSocketModeHandler(app, Settings.secret(settings.slack_app_token) or "")
    handler.connect()
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        logging.getLogger(__name__).info(
            "%s: finishing the work in hand", signal.Signals(signum).name
        )
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopping.wait()
    clock.stop_taking_work()
    handler.close()
    clock.finish()


def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations (the Procfile's release phase)."""
    from alembic.util import CommandError

    from storage.db import make_engine
    from storage.migrate import upgrade

    settings = Settings()
    refuse_private_database(settings)
    try:
        before, after = upgrade(make_engine(settings.database_url), revision)
    except CommandError as error:
        raise CliError(f"cannot upgrade to {revision!r}: {error}") from error
    if before == after:
        out.print(f"database already at revision {after}")
    else:
        out.print(f"database upgraded from {before or 'empty'} to {after}")


def clock() -> None:
    """The scheduler alone: stand-up digests, the breach scan and delivery.

    A second clock on PostgreSQL waits as a standby and takes over when the first stops."""
    from bot.scheduler import run_clock
    from storage.clock import ClockAlreadyRunning

    settings = Settings()
    settings.require("SLACK_BOT_TOKEN")
    configure_logging()
    try:
        run_clock(settings, open_engine(settings, serving=True))
    except ClockAlreadyRunning as error:
        err.print(f"slabot: {error}", markup=False)
        raise typer.Exit(1) from error
