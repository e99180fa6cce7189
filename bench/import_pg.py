"""`slabot import` into PostgreSQL vs a COPY of the same rows into the same tables.

Runs when SLABOT_BENCH_DATABASE_URL points at a PostgreSQL database (each side gets a schema
of its own, dropped afterwards). The floor converts every row beforehand (not timed), COPYs
the lead rows into `lead` and writes their stage history with the same INSERT … SELECT the
import runs: the database's share of the work, with no per-row Python.
Target (issue 12): ≤ 2× the floor, under 300 MB.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.harness import report
from bench.import_csv import generate, timed_run
from bench.scan import pg_schema
from bot.intake.native import NativeLeads
from storage.ingest import COLUMNS, INSERT_COLUMNS, record_stages_above
from tests.conftest import engine_for

TARGET_RATIO = 2.0
TARGET_MB = 300


def floor(source: Path, url: str) -> float:
    """Seconds for COPY of the converted rows plus the stage history, in one transaction."""
    tz = ZoneInfo("America/New_York")
    now = datetime.now(UTC)
    rows = []
    with source.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        read = NativeLeads(header, tz)
        for cells in reader:
            record = read(cells)
            get = record.values.get
            values = (*map(get, COLUMNS), "native", record.external_id, "-", now)
            rows.append(tuple(json.dumps(v) if isinstance(v, dict) else v for v in values))
    engine = engine_for(url)
    started = time.perf_counter()
    with engine.begin() as connection:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY lead ({', '.join(INSERT_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        record_stages_above(connection, 0, "import")
    took = time.perf_counter() - started
    engine.dispose()
    return took


def run(rows: int = 1_000_000) -> bool:
    base = os.environ.get("SLABOT_BENCH_DATABASE_URL")
    if not base:
        print("import_pg: skipped (set SLABOT_BENCH_DATABASE_URL to a PostgreSQL database)")
        return True
    folder = Path(tempfile.mkdtemp(prefix="slabot-import-pg-"))
    source = folder / "leads.csv"
    generate(source, rows)
    with pg_schema(base) as ours_url, pg_schema(base) as floor_url:
        env = {**os.environ, "DATABASE_URL": ours_url}
        for url in (ours_url, floor_url):
            subprocess.run(
                [sys.executable, "-m", "bot", "db", "upgrade"],
                env={**env, "DATABASE_URL": url},
                check=True,
                capture_output=True,
            )
        ours_s, ours_mb = timed_run([sys.executable, "-m", "bot", "import", str(source)], env=env)
        again_s, _ = timed_run([sys.executable, "-m", "bot", "import", str(source)], env=env)
        floor_s = floor(source, floor_url)
    ratio = ours_s / floor_s
    met = ratio <= TARGET_RATIO and ours_mb < TARGET_MB
    report(
        f"import of a {rows:,}-row native CSV into PostgreSQL",
        [
            (
                "time",
                f"{ours_s:.1f} s ({rows / ours_s:,.0f} rows/s)",
                f"{floor_s:.1f} s (COPY)",
                f"≤ {TARGET_RATIO}× floor (is {ratio:.2f}×)",
                ratio <= TARGET_RATIO,
            ),
            ("peak memory", f"{ours_mb:.0f} MB", "—", f"< {TARGET_MB} MB", ours_mb < TARGET_MB),
            ("re-import (no-op)", f"{again_s:.1f} s", "—", "—", True),
        ],
    )
    return met


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
