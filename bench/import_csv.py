"""`slabot import` of a generated native CSV into SQLite, beside the floor: the database writes
slabot's data model needs (lead rows, their indexes, stage history) with no per-row Python at
all. The sqlite3 shell's `.import` into a bare table shows what a table without the model costs.

Targets: within 1.5× of the floor's time; the import's own peak memory (its process and any it
starts) under 300 MB.
"""

from __future__ import annotations

import csv
import itertools
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.harness import peak_tree_mb, report
from bot.domain.leads import LEAD_FIELDS, STAGE_OF_FIELD
from bot.intake.native import NativeLeads
from storage.bulk import driver_values
from storage.ingest import COLUMNS, INSERT_COLUMNS

TARGET_RATIO = 1.5
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


def writes_only(source: Path, database: Path) -> float:
    """Seconds the database needs for the writes slabot's model makes — the lead rows, their
    stage history by INSERT … SELECT, the lead indexes rebuilt at the end, the commit — with
    every row converted beforehand and that time left out: what no Python code can go below."""
    tz = ZoneInfo("America/New_York")
    now = datetime.now(UTC)
    db = sqlite3.connect(database, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        db.execute(f"PRAGMA {pragma}")
    insert = (
        f"INSERT INTO lead ({', '.join(INSERT_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(INSERT_COLUMNS))})"
    )
    stages = [("created_at", "lead"), *STAGE_OF_FIELD.items()]
    history = "INSERT INTO stage_change (lead_id, stage, at, origin) " + " UNION ALL ".join(
        f"SELECT id, '{stage}', {column}, 'import' FROM lead WHERE id > ? AND {column} IS NOT NULL"
        for column, stage in stages
    )
    started = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'lead' "
        "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'"
    ).fetchall()
    for name, _ in indexes:
        db.execute(f"DROP INDEX {name}")
    converting = 0.0
    with source.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        read = NativeLeads(header, tz)
        while batch := list(itertools.islice(reader, 5000)):
            before = time.perf_counter()
            rows = []
            for cells in batch:
                record = read(cells)
                get = record.values.get
                row = (*map(get, COLUMNS), "native", record.external_id, "-", now)
                rows.append(row)
            rows = driver_values(rows, "lead", INSERT_COLUMNS, sqlite=True)
            converting += time.perf_counter() - before
            last = db.execute("SELECT max(id) FROM lead").fetchone()[0] or 0
            db.executemany(insert, rows)
            db.execute(history, (last,) * len(stages))
    for _, sql in indexes:
        db.execute(sql)
    db.execute("COMMIT")
    db.close()
    return time.perf_counter() - started - converting


def timed_run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one command's own processes (read from /proc while
    it runs: a child's rusage would count this benchmark's memory, which it starts with)."""
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_mb = peak_tree_mb(process)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        assert process.stderr is not None
        raise RuntimeError(f"{args[:3]} failed: {process.stderr.read().decode()[-2000:]}")
    return elapsed, peak_mb


def run(rows: int = 1_000_000) -> bool:
    folder = Path(tempfile.mkdtemp(prefix="slabot-import-bench-"))
    source = folder / "leads.csv"
    generate(source, rows)
    floor_db = folder / "floor.db"
    floor_s, _ = timed_run(
        ["sqlite3", str(floor_db), "-cmd", ".mode csv", f".import {source} leads"]
    )
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder / 'slabot.db'}"}
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    ours_s, ours_mb = timed_run([sys.executable, "-m", "bot", "import", str(source)], env=env)
    again_s, _ = timed_run([sys.executable, "-m", "bot", "import", str(source)], env=env)
    bare = folder / "writes-only.db"
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        env={**env, "DATABASE_URL": f"sqlite:///{bare}"},
        check=True,
        capture_output=True,
    )
    writes_s = writes_only(source, bare)
    ratio = ours_s / writes_s
    report(
        f"import of a {rows:,}-row native CSV into SQLite ({source.stat().st_size / 1e6:.0f} MB)",
        [
            (
                "time",
                f"{ours_s:.1f} s ({rows / ours_s:,.0f} rows/s)",
                f"{writes_s:.1f} s (the model's writes)",
                f"≤ {TARGET_RATIO}× floor (is {ratio:.2f}×)",
                ratio <= TARGET_RATIO,
            ),
            ("the import's own peak memory", f"{ours_mb:.0f} MB", "—", f"< {TARGET_MB} MB",
             ours_mb < TARGET_MB),
            ("re-import (no-op)", f"{again_s:.1f} s", "—", "—", None),
            ("sqlite3 .import into a bare table", f"{floor_s:.1f} s", "—",
             f"(the model's writes are {writes_s / floor_s:.2f}× it)", None),
        ],
    )  # fmt: skip
    return ratio <= TARGET_RATIO and ours_mb < TARGET_MB


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
