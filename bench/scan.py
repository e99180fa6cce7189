"""The breach scan over 1,000,000 leads with 20,000 open, beside one raw SQL query that selects
the same open, assigned, untouched leads (the floor).

Targets: the scan within 2× of the floor and under 1 s — on SQLite, and on PostgreSQL when
SLABOT_BENCH_DATABASE_URL is set (in a schema of its own, dropped afterwards).
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine, make_url

from bench.harness import report
from bot.services.agreements import apply_agreement
from bot.services.alerts import scan
from bot.settings import Settings
from bot.slack.render import Renderer
from storage.db import make_engine
from storage.migrate import upgrade

TARGET_RATIO = 2.0
TARGET_SECONDS = 1.0
REPS = 40
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sla.toml"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
FLOOR_SQL = (
    "SELECT id, owner_email, company, name, score, assigned_at FROM lead "
    "WHERE assigned_at IS NOT NULL AND first_touch_at IS NULL "
    "AND recycled_at IS NULL AND closed_at IS NULL"
)


def _text(at: datetime) -> str:
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def agreement_text() -> str:
    head = EXAMPLE.read_text().split("[[reps]]")[0]
    reps = "".join(
        f'[[reps]]\nemail = "rep{n}@example.com"\nteam = "na"\nmanager = "max@example.com"\n\n'
        for n in range(REPS)
    )
    return head + reps


def build(url: str, leads: int, open_leads: int) -> None:
    """1M leads: the worked ones with met first-touch and accept clocks (as earlier scans left
    them), the open ones assigned over the last business day and not yet evaluated."""
    engine = make_engine(url)
    upgrade(engine)
    apply_agreement(engine, agreement_text(), now=NOW)
    rng = random.Random(3)
    lead_rows, clock_rows = [], []
    for number in range(leads):
        is_open = number >= leads - open_leads
        assigned = (
            NOW - timedelta(minutes=rng.randrange(30, 16 * 60))
            if is_open
            else NOW - timedelta(days=rng.randrange(2, 360), minutes=rng.randrange(0, 1440))
        )
        touched = None if is_open else assigned + timedelta(minutes=rng.randrange(5, 300))
        lead_rows.append((
            number + 1, "native", f"L{number:07d}", f"rep{number % REPS}@example.com",
            rng.randrange(1, 100), f"Company {number % 5003}", f"Lead {number}", "website",
            assigned, assigned, touched, touched, NOW, is_open,
        ))  # fmt: skip
        if not is_open:
            for rule, hours in (("first_touch", 4), ("accept", 16)):
                due = assigned + timedelta(hours=hours)
                clock_rows.append((
                    number + 1, rule, "met", assigned, due, due, due, due,
                    touched, 60.0, 0, None,
                ))  # fmt: skip
    load(engine, "lead", LEAD_COLUMNS, lead_rows)
    load(engine, "sla_clock", CLOCK_COLUMNS, clock_rows)
    engine.dispose()


LEAD_COLUMNS = (
    "id, source_system, external_id, owner_email, score, company, name, source, mql_at, "
    "assigned_at, first_touch_at, sal_at, updated_at, clocks_stale"
)
CLOCK_COLUMNS = (
    "lead_id, rule, status, starts_at, warn_at, due_at, manager_at, channel_at, met_at, "
    "took_minutes, alerted, next_at"
)


def load(engine: Engine, table: str, columns: str, rows: list[tuple]) -> None:
    """Bulk-load rows as the database stores them: SQLite via executemany with SQLAlchemy's
    text times, PostgreSQL via COPY; then analyse, as a database in use would be."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            if table == "lead":  # ids were given: move the sequence past them
                connection.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('lead', 'id'), max(id)) FROM lead"
                )
            connection.exec_driver_sql(f"ANALYZE {table}")
        return
    path = make_url(str(engine.url)).database
    db = sqlite3.connect(str(path))
    marks = ",".join("?" * len(columns.split(",")))
    db.executemany(
        f"INSERT INTO {table} ({columns}) VALUES ({marks})",
        [tuple(_text(v) if isinstance(v, datetime) else v for v in row) for row in rows],
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()


def best_of(repeats: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(leads: int = 1_000_000, open_leads: int = 20_000) -> bool:
    folder = Path(tempfile.mkdtemp(prefix="slabot-scan-bench-"))
    met = measure(f"sqlite:///{folder / 'slabot.db'}", "SQLite", leads, open_leads)
    base = os.environ.get("SLABOT_BENCH_DATABASE_URL")
    if base:
        with pg_schema(base) as url:
            met = measure(url, "PostgreSQL", leads, open_leads) and met
    return met


@contextmanager
def pg_schema(base: str) -> Iterator[str]:
    """A throw-away schema in the benchmark database, as a URL."""
    from tests.conftest import _pg_schema_url, engine_for

    schema = f"slabot_bench_{uuid.uuid4().hex[:8]}"
    admin = engine_for(base)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield Settings(DATABASE_URL=_pg_schema_url(base, schema)).database_url
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def measure(url: str, name: str, leads: int, open_leads: int) -> bool:
    print(f"building {leads:,} leads ({open_leads:,} open) in {name} …", file=sys.stderr)
    build(url, leads, open_leads)
    engine = make_engine(url)
    renderer = Renderer()

    def floor() -> None:
        """The query through the bare driver: no SQLAlchemy rows in the floor's way."""
        if engine.dialect.name == "sqlite":
            with sqlite3.connect(str(make_url(url).database)) as db:
                db.execute(FLOOR_SQL).fetchall()
            return
        with engine.connect() as connection:
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(FLOOR_SQL)
            cursor.fetchall()

    floor_s = best_of(5, floor)
    # computing 20k leads' clocks: what the first scan after an import (or new terms) does;
    # once (the clocks it computes are kept, dry run or not)
    first_s = best_of(1, lambda: scan(engine, renderer, now=NOW, dry_run=True))
    scan(engine, renderer, now=NOW)  # the clock's scan: clocks stored, alerts queued
    with engine.begin() as connection:  # as autovacuum would, once the clocks are in
        connection.exec_driver_sql("ANALYZE")
    steady_s = best_of(5, lambda: scan(engine, renderer, now=NOW + timedelta(minutes=1),
                                       dry_run=True))  # fmt: skip
    # two hours on, most open leads have crossed a level: a scan that queues every rep's DM
    later = NOW + timedelta(hours=2)
    busy = scan(engine, renderer, now=later, dry_run=True)
    busy_s = best_of(3, lambda: scan(engine, renderer, now=later, dry_run=True))
    engine.dispose()

    def row(label: str, seconds: float) -> tuple[str, str, str, str, bool]:
        ratio = seconds / floor_s
        met = ratio <= TARGET_RATIO and seconds < TARGET_SECONDS
        target = f"≤ {TARGET_RATIO:g}× floor and < 1 s (is {ratio:.2f}×)"
        return label, f"{seconds * 1000:.0f} ms", f"{floor_s * 1000:.0f} ms", target, met

    rows = [
        row("scan, every minute (nothing new)", steady_s),
        row(f"scan as {busy.due:,} clocks cross a level ({len(busy.messages)} DMs)", busy_s),
    ]
    rows.append(
        (f"first scan: clocks of {open_leads:,} new leads", f"{first_s:.2f} s",
         "—", f"{open_leads / first_s:,.0f} leads/s", True)
    )  # fmt: skip
    report(f"breach scan over {leads:,} leads, {open_leads:,} open ({name})", rows)
    return all(met for *_, met in rows)


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
