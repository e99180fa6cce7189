"""The stand-up digest over a month of 1,000,000 leads, beside the raw SQL aggregates that
produce the same counts (the floor: the same figures, hand-written SQL, no Python around it).

Targets: the digest within 2× of the floor and under 1 s; `/pace` uncached (the same
figures as a person asks for them, rendered) within 1.5× of it.
"""

from __future__ import annotations

import itertools
import os
import random
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy.engine import make_url

from bench.harness import report
from bench.scan import CLOCK_COLUMNS, best_of, load, pg_schema
from bot.services.agreements import apply_agreement
from bot.services.digest import compute_digest
from bot.slack.messages.digest import render_digest
from bot.slack.render import Renderer
from storage.db import make_engine
from storage.migrate import upgrade

TARGET_RATIO = 2.0
TARGET_SECONDS = 1.0
PACE_RATIO = 1.5  # /pace: a person waits on it in Slack
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sla.toml"
NY = ZoneInfo("America/New_York")
DAY = date(2026, 11, 20)  # Friday: 13 of November's 19 business days done
NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
SOURCES = ("website", "outbound", "events", "partner")
REASONS = ("bad timing", "no budget", "student", "competitor", "not the decision maker")
REPS = [f"rep{n}@example.com" for n in range(40)]


def _text(at: datetime) -> str:
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def build(url: str, leads: int, day: date = DAY) -> None:
    """`leads` MQLs between the first of `day`'s month and its morning; a third become SQLs,
    one in twenty is recycled, each has a settled first-touch clock; 2,000 owners' leads are
    open and breached; and a cohort of 30,000 MQLs from two months before."""
    now = datetime.combine(day, time(14), tzinfo=UTC)
    engine = make_engine(url)
    upgrade(engine)
    apply_agreement(engine, EXAMPLE.read_text(), now=now)
    rng = random.Random(5)
    start = datetime.combine(day.replace(day=1), time(4), tzinfo=UTC)
    span = (datetime.combine(day, time(5), tzinfo=UTC) - start).total_seconds()
    cohort_start = datetime.combine(day - timedelta(days=60), time(4), tzinfo=UTC)
    lead_rows, clock_rows = [], []
    cohort = 30_000
    for number in range(leads + cohort):
        if number < leads:
            mql = start + timedelta(seconds=rng.random() * span)
        else:
            mql = cohort_start + timedelta(hours=rng.random() * 720)
        sql = mql + timedelta(days=rng.random() * 3) if rng.random() < 0.34 else None
        recycled = (
            mql + timedelta(days=rng.random() * 2) if not sql and rng.random() < 0.08 else None
        )
        touched = mql + timedelta(minutes=rng.randrange(5, 600))
        owner = REPS[number % len(REPS)]
        is_open = number < 2_000
        lead_rows.append((
            number + 1, "native", f"L{number:07d}", owner, rng.choice(SOURCES), mql,
            mql, sql, recycled, rng.choice(REASONS) if recycled else None,
            None if is_open else touched, now, False,
        ))  # fmt: skip
        due = mql + timedelta(hours=4)
        took = (touched - mql).total_seconds() / 60
        clock_rows.append((
            number + 1, "first_touch", "open" if is_open else ("met" if took <= 240 else "late"),
            mql, due, due, due, due, None if is_open else touched,
            None if is_open else took, 0, None,
        ))  # fmt: skip
    load(engine, "lead", LEAD_COLUMNS, lead_rows)
    load(engine, "sla_clock", CLOCK_COLUMNS, clock_rows)
    engine.dispose()


LEAD_COLUMNS = (
    "id, source_system, external_id, owner_email, source, mql_at, assigned_at, sql_at, "
    "recycled_at, recycle_reason, first_touch_at, updated_at, clocks_stale"
)


def floor_queries(url: str) -> None:
    """The same counts as hand-written SQL through the bare driver: each stage (MQLs per source
    of the split) for the month and yesterday, the cohort, recycle reasons, first-touch
    compliance and medians, breaches, and the burn-up's daily counts."""
    sqlite = url.startswith("sqlite")
    at: Callable[[datetime], object]
    if sqlite:
        db = sqlite3.connect(str(make_url(url).database))
        at, mark, unindexed = _text, "?", "+"  # `+met_at` keeps SQLite off the met_at range
    else:
        raw = psycopg.connect(
            make_url(url)
            .render_as_string(hide_password=False)
            .replace("postgresql+psycopg://", "postgresql://")
        )
        db = raw.cursor()  # type: ignore[assignment]
        at, mark, unindexed = (lambda value: value), "%s", ""

    def rows(sql: str, params: tuple) -> list:
        return db.execute(sql.replace("?", mark), params).fetchall()

    def midnight(day: date) -> object:
        return at(datetime.combine(day, time(0), tzinfo=NY))

    since, moved, until = (
        midnight(date(2026, 11, 1)),
        midnight(DAY - timedelta(1)),
        midnight(DAY),
    )
    rows(
        "SELECT count(*), count(*) FILTER (WHERE mql_at >= ?), "
        "count(*) FILTER (WHERE source = 'website'), "
        "count(*) FILTER (WHERE source = 'outbound') "
        "FROM lead WHERE mql_at >= ? AND mql_at < ?",
        (moved, since, until),
    )
    for column in ("sql_at", "recycled_at"):
        rows(
            f"SELECT count(*), count(*) FILTER (WHERE {column} >= ?) FROM lead "
            f"WHERE {column} >= ? AND {column} < ?",
            (moved, since, until),
        )
    rows(
        "SELECT coalesce(source, ''), count(*), count(*) FILTER (WHERE sql_at < ?) "
        "FROM lead WHERE mql_at >= ? AND mql_at < ? GROUP BY 1",
        (until, midnight(date(2026, 9, 21)), midnight(date(2026, 10, 21))),
    )
    rows(
        "SELECT coalesce(recycle_reason, ''), count(*) AS n FROM lead WHERE recycled_at >= ? "
        "AND recycled_at < ? GROUP BY 1 ORDER BY n DESC LIMIT 3",
        (since, until),
    )
    for start in (since, moved):
        total, _late = rows(
            "SELECT count(*), count(*) FILTER (WHERE status = 'late') FROM sla_clock "
            "WHERE rule = 'first_touch' AND met_at >= ? AND met_at < ?",
            (start, until),
        )[0]
        rows(
            f"SELECT took_minutes FROM sla_clock WHERE rule = 'first_touch' "
            f"AND {unindexed}met_at >= ? AND {unindexed}met_at < ? "
            "ORDER BY took_minutes LIMIT ? OFFSET ?",
            (start, until, 2 - total % 2, (total - 1) // 2),
        )
    rows(
        "SELECT owner_email, count(DISTINCT lead_id) AS n FROM sla_clock JOIN lead "
        "ON lead.id = sla_clock.lead_id WHERE status = 'open' AND due_at <= ? "
        "AND owner_email IS NOT NULL GROUP BY owner_email ORDER BY n DESC",
        (at(NOW),),
    )
    days = [date(2026, 11, 1) + timedelta(n) for n in range((DAY - date(2026, 11, 1)).days + 1)]
    for first, last in itertools.pairwise(days):
        rows(
            "SELECT count(*) FROM lead WHERE mql_at >= ? AND mql_at < ?",
            (midnight(first), midnight(last)),
        )
    db.close()
    if not sqlite:
        raw.close()


def run(leads: int = 1_000_000) -> bool:
    folder = Path(tempfile.mkdtemp(prefix="slabot-digest-bench-"))
    met = measure(f"sqlite:///{folder / 'slabot.db'}", "SQLite", leads)
    base = os.environ.get("SLABOT_BENCH_DATABASE_URL")
    if base:
        with pg_schema(base) as url:
            met = measure(url, "PostgreSQL", leads) and met
    return met


def measure(url: str, name: str, leads: int) -> bool:
    print(f"building a month of {leads:,} leads in {name} …", file=sys.stderr)
    build(url, leads)
    engine = make_engine(url)
    renderer = Renderer()
    floor_s = best_of(5, lambda: floor_queries(url))
    found = compute_digest(engine, team="na", day=DAY, now=NOW)
    compute_s = best_of(5, lambda: compute_digest(engine, team="na", day=DAY, now=NOW))
    render_s = best_of(5, lambda: render_digest(renderer, found))

    def pace() -> None:
        """`/pace` as a person asks it, missing the per-minute cache: this morning's figures
        and the breaches now (the clock keeps the clocks fresh), rendered."""
        render_digest(
            renderer, compute_digest(engine, team="na", now=NOW, fresh=False), heading="Pace"
        )

    pace_s = best_of(5, pace)
    engine.dispose()
    ratio = compute_s / floor_s
    rows = [
        (
            f"digest figures for {found.figures.mqls.actual:,} MQLs (month to date)",
            f"{compute_s * 1000:.0f} ms",
            f"{floor_s * 1000:.0f} ms",
            f"≤ {TARGET_RATIO:g}× floor and < 1 s (is {ratio:.2f}×)",
            ratio <= TARGET_RATIO and compute_s < TARGET_SECONDS,
        ),
        ("render Block Kit + text", f"{render_s * 1000:.1f} ms", "—", "—", True),
        (
            "/pace, uncached (figures and breaches now, rendered)",
            f"{pace_s * 1000:.0f} ms",
            f"{floor_s * 1000:.0f} ms",
            f"≤ {PACE_RATIO:g}× floor (is {pace_s / floor_s:.2f}×)",
            pace_s <= PACE_RATIO * floor_s,
        ),
    ]
    report(f"stand-up digest over a month of {leads:,} leads ({name})", rows)
    return all(met for *_, met in rows)


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
