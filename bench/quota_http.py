"""Signed `/quota` through the real HTTP server vs a bare Bolt app on the same server.

Target: slabot's p50 latency within 1.3× of the floor's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.harness import measure_interleaved, report, start, stop, wait_healthy
from tests.conftest import free_port, seed_agreement
from tests.fake_slack import BOT_TOKEN, FakeSlack
from tests.signing import SIGNING_SECRET, signed_headers, slash_command_body

TARGET_RATIO = 1.3


def run(requests: int = 4000, warmup: int = 300) -> bool:
    from bot.settings import Settings
    from storage.db import make_engine
    from storage.migrate import upgrade

    fake = FakeSlack().start()
    folder = Path(tempfile.mkdtemp(prefix="slabot-bench-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(Settings(DATABASE_URL=url).database_url)
    upgrade(engine)
    seed_agreement(engine)
    engine.dispose()
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "DATABASE_URL": url,
        "WEB_CONCURRENCY": "1",
    }

    def make() -> tuple[str, dict[str, str]]:
        body = slash_command_body("/quota", "500k aov=2k win=23% sql2opp=82% mql2sql=34%")
        return body, signed_headers(body)

    processes, ports = {}, {}
    try:
        for name, args in (
            ("slabot", ["-m", "bot", "serve"]),
            ("floor", ["-m", "bench.floor_app"]),
        ):
            ports[name] = free_port()
            processes[name] = start(args, {**env, "PORT": str(ports[name])}, folder / f"{name}.log")
        for name, process in processes.items():
            wait_healthy(ports[name], "/healthz", process)
        results = measure_interleaved(
            ports, "/slack/events", make, warmup=warmup, requests=requests
        )
    finally:
        for process in processes.values():
            stop(process)
    fake.stop()
    ours, floor = results["slabot"], results["floor"]
    ratio = ours.p50_ms / floor.p50_ms
    met = ratio <= TARGET_RATIO
    report(
        "signed /quota over HTTP (gunicorn, 1 worker each, interleaved keep-alive rounds)",
        [
            (
                "p50 latency",
                f"{ours.p50_ms:.2f} ms",
                f"{floor.p50_ms:.2f} ms",
                f"≤ {TARGET_RATIO}× floor (is {ratio:.2f}×)",
                met,
            ),
            ("p99 latency", f"{ours.p99_ms:.2f} ms", f"{floor.p99_ms:.2f} ms", "—", True),
            ("requests/s", f"{ours.per_second:,.0f}", f"{floor.per_second:,.0f}", "—", True),
        ],
    )
    return met


if __name__ == "__main__":
    run()
