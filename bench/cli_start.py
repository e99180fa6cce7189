"""A one-line command from start to answer: `slabot quota 500k` against an applied agreement
(SQLite), beside `python -c 'import slack_bolt, sqlalchemy'` (the floor), and beside the import
of the stack every slabot command stands on (typer and rich, pydantic-settings, SQLModel's
tables, jinja2, the `holidays` calendars) to show what of the rest is slabot's own.

Target: ≤ 2× the floor. Each command runs 10 times, alternating; the median counts.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import report

TARGET_RATIO = 2.0
RUNS = 10
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sla.toml"
FLOOR = [sys.executable, "-c", "import slack_bolt, sqlalchemy"]
STACK = [
    sys.executable,
    "-c",
    "import slack_bolt, sqlalchemy, typer, rich.console, pydantic_settings, jinja2, "
    "storage.models, holidays; holidays.country_holidays('US')",
]


def _time_once(command: list[str], env: dict[str, str], samples: dict[str, list[float]]) -> None:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    samples.setdefault(" ".join(command[-2:]), []).append(time.perf_counter() - started)


def run() -> bool:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{Path(folder) / 'quota.db'}"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: slabot's modules compiled
        quota = [sys.executable, "-m", "bot", "quota", "500k"]
        for args in (("db", "upgrade"), ("sla", "apply", str(EXAMPLE)), ("quota", "500k")):
            subprocess.run([sys.executable, "-m", "bot", *args], env=env, check=True,
                           capture_output=True)  # fmt: skip
        samples: dict[str, list[float]] = {}
        for _ in range(RUNS):
            for command in (FLOOR, STACK, quota):
                _time_once(command, env, samples)
    floor, stack, ours = (
        statistics.median(samples[" ".join(c[-2:])]) for c in (FLOOR, STACK, quota)
    )
    ratio = ours / floor
    report(
        "a one-line command: `slabot quota 500k` (SQLite, agreement applied)",
        [
            ("start to answer", f"{ours * 1000:.0f} ms", f"{floor * 1000:.0f} ms",
             f"≤ {TARGET_RATIO:g}× floor (is {ratio:.2f}×)", ratio <= TARGET_RATIO),
            ("the stack's imports alone", f"{stack * 1000:.0f} ms", f"{floor * 1000:.0f} ms",
             f"{stack / floor:.2f}× floor; slabot's own: {(ours - stack) * 1000:.0f} ms", None),
        ],
    )  # fmt: skip
    return ratio <= TARGET_RATIO
