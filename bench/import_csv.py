"""`slabot import` of a generated native CSV vs the sqlite3 shell's `.import` into a bare table.

Targets: within 3× of the floor's time, under 300 MB peak memory.
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench.harness import report
from bot.domain.ingest import LEAD_FIELDS

TARGET_RATIO = 3.0
TARGET_MB = 300


def generate(path: Path, rows: int, seed: int = 1) -> None:
    """Realistic rows: most have an MQL time, an owner and a source; some went further."""
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, 9)
    sources = ("website", "outbound", "events", "partner")
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(LEAD_FIELDS)
        for number in range(rows):
            mql = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 80))
            sql = mql + timedelta(days=rng.randrange(1, 9)) if rng.random() < 0.3 else None
            touch = mql + timedelta(minutes=rng.randrange(5, 600)) if rng.random() < 0.9 else None
            writer.writerow([
                f"L{number:07d}", f"lead{number}@example{number % 977}.com", f"Lead {number}",
                f"Company {number % 5003}", rng.choice(sources), rng.choice(("smb", "mid", "ent")),
                "", f"rep{number % 40}@example.com", rng.randrange(1, 100),
                (mql - timedelta(days=2)).isoformat(timespec="minutes"),
                mql.isoformat(timespec="minutes"), "", "",
                sql.isoformat(timespec="minutes") if sql else "", "", "", "", "", "", "",
                touch.isoformat(timespec="minutes") if touch else "",
            ])  # fmt: skip


def _run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{args[:3]} failed: {process.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def run(rows: int = 1_000_000) -> bool:
    folder = Path(tempfile.mkdtemp(prefix="slabot-import-bench-"))
    source = folder / "leads.csv"
    generate(source, rows)
    floor_db = folder / "floor.db"
    floor_s, _ = _run(["sqlite3", str(floor_db), "-cmd", ".mode csv", f".import {source} leads"])
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder / 'slabot.db'}"}
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    ours_s, ours_mb = _run([sys.executable, "-m", "bot", "import", str(source)], env=env)
    again_s, _ = _run([sys.executable, "-m", "bot", "import", str(source)], env=env)
    ratio = ours_s / floor_s
    report(
        f"import of a {rows:,}-row native CSV into SQLite ({source.stat().st_size / 1e6:.0f} MB)",
        [
            (
                "time",
                f"{ours_s:.1f} s ({rows / ours_s:,.0f} rows/s)",
                f"{floor_s:.1f} s",
                f"≤ {TARGET_RATIO}× floor (is {ratio:.2f}×)",
                ratio <= TARGET_RATIO,
            ),
            ("peak memory", f"{ours_mb:.0f} MB", "—", f"< {TARGET_MB} MB", ours_mb < TARGET_MB),
            ("re-import (no-op)", f"{again_s:.1f} s", "—", "—", True),
        ],
    )
    return ratio <= TARGET_RATIO and ours_mb < TARGET_MB


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
