"""`slabot demo`: a realistic generated quarter, loaded through the real ingest path."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.domain.agreement import Agreement
from bot.domain.business_time import next_open
from bot.domain.calendar import period_bounds
from bot.domain.leads import LeadRecord, TouchRecord
from bot.services.agreements import apply_agreement
from bot.services.alerts import ScanResult, scan
from bot.slack.render import Renderer
from storage.ingest import upsert_leads

REPS = (
    {"email": "rita@example.com", "team": "na", "manager": "max@example.com", "timezone": None},
    {"email": "sam@example.com", "team": "na", "manager": "max@example.com", "timezone": None},
    {"email": "lee@example.com", "team": "na", "manager": "max@example.com", "timezone": None},
    {"email": "ana@example.com", "team": "emea", "manager": "eva@example.com",
     "timezone": "Europe/Berlin"},
    {"email": "jon@example.com", "team": "emea", "manager": "eva@example.com",
     "timezone": "Europe/Berlin"},
)  # fmt: skip
# share of MQLs, MQL→SQL rate, and how reliably reps touch them (outbound leads wait longest)
SOURCES = {"website": (0.5, 0.36, 0.95), "outbound": (0.3, 0.27, 0.85), "events": (0.2, 0.42, 0.9)}
RECYCLE_REASONS = ("no budget", "not the decision maker", "student or job seeker", "competitor")
COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne",
             "Tyrell", "Soylent", "Cyberdyne", "Wonka", "Gekko", "Duff", "Pied Piper")  # fmt: skip
FIRST = ("Ann", "Bob", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jae", "Kim", "Lou")
LAST = ("Lee", "Ray", "Ng", "Patel", "Ortiz", "Schmidt", "Rossi", "Kowalski", "Dubois", "Kim")


@dataclass
class DemoStats:
    since: date
    leads: int = 0
    mqls: int = 0
    sqls: int = 0
    won: int = 0
    recycled: int = 0
    untouched: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    sql_by_source: Counter[str] = field(default_factory=Counter)


def _quarter_label(day: date) -> str:
    return f"Q{(day.month - 1) // 3 + 1} {day.year}"


def demo_agreement_text(renderer: Renderer, now: datetime) -> str:
    """The demo's agreement: it watches from a day before `now`, so what the generated quarter
    reached before then is history and what it reached since is today's news."""
    today = now.date()
    start, _ = period_bounds(today, "quarter")
    watch_from = (now - timedelta(days=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        renderer.text(
            "demo/sla.toml.j2",
            quarter=_quarter_label(today),
            effective=start,
            watch_from=watch_from,
            reps=REPS,
        )
        + "\n"
    )


def generate_leads(agreement: Agreement, now: datetime, rng: random.Random) -> list[LeadRecord]:
    """A quarter-to-date of MQLs arriving through each business day, mostly in working hours."""
    calendar = agreement.business_calendar()
    tz = ZoneInfo(agreement.calendar.timezone)
    start, _ = period_bounds(calendar.today(now), "quarter")
    per_day = (agreement.targets().mqls or 0) / 21  # a typical month has ~21 business days
    records: list[LeadRecord] = []
    day = start
    while day <= calendar.today(now):
        if calendar.is_business_day(day):
            for _ in range(max(0, round(rng.gauss(per_day, per_day * 0.2)))):
                record = _lead(len(records) + 1, day, tz, now, rng)
                if record is not None:
                    records.append(record)
        day += timedelta(days=1)
    return records


def _lead(
    number: int, day: date, tz: ZoneInfo, now: datetime, rng: random.Random
) -> LeadRecord | None:
    source = rng.choices(list(SOURCES), weights=[s[0] for s in SOURCES.values()])[0]
    _, sql_rate, touch_rate = SOURCES[source]
    hour = rng.choice((7, 8) if rng.random() < 0.1 else (9, 10, 11, 12, 13, 14, 15, 16))
    mql_at = datetime.combine(day, time(hour, rng.randrange(60)), tz).astimezone(UTC)
    if mql_at > now:
        return None
    rep = rng.choice(REPS)
    first, last, company = rng.choice(FIRST), rng.choice(LAST), rng.choice(COMPANIES)
    values: dict[str, object] = {
        "email": f"{first}.{last}{number}@{company}.example".lower(),
        "name": f"{first} {last}",
        "company": f"{company} {rng.choice(('Inc', 'GmbH', 'Ltd', 'LLC'))}",
        "source": source,
        "segment": rng.choice(("smb", "smb", "mid", "enterprise")),
        "score": rng.randrange(40, 100),
        "owner_email": rep["email"],
        "created_at": mql_at - timedelta(days=rng.randrange(0, 20)),
        "mql_at": mql_at,
        "assigned_at": mql_at,
        "stage": "mql",
    }
    record = LeadRecord(f"DEMO-{number:05d}", values)
    if rng.random() < touch_rate:  # touched, usually quickly, sometimes a day late
        delay = timedelta(
            minutes=rng.choice((20, 45, 90, 150, 200))
            if rng.random() < 0.85
            else rng.randrange(6 * 60, 30 * 60)
        )
        if mql_at + delay < now:
            values["first_touch_at"] = mql_at + delay
            record.touches.append(
                TouchRecord(
                    record.external_id,
                    mql_at + delay,
                    rng.choice(("call", "email")),
                    str(rep["email"]),
                )
            )
    age = now - mql_at
    if "first_touch_at" not in values and age > timedelta(days=7):  # late, but worked in the end
        late = mql_at + timedelta(days=rng.randrange(2, 5))
        values["first_touch_at"] = late
        record.touches.append(TouchRecord(record.external_id, late, "call", str(rep["email"])))
    if "first_touch_at" in values:
        _follow_up(record, values["first_touch_at"], rep["email"], now, rng)  # type: ignore[arg-type]
    if "first_touch_at" in values and age > timedelta(days=3):
        roll = rng.random()
        if roll < 0.1:
            values.update(
                stage="recycled",
                recycled_at=mql_at + timedelta(days=2),
                recycle_reason=rng.choice(RECYCLE_REASONS),
            )
        elif roll < 0.1 + sql_rate:
            values.update(
                stage="sql",
                sal_at=mql_at + timedelta(days=1),
                sql_at=mql_at + timedelta(days=rng.randrange(2, 10)),
            )
            if age > timedelta(days=20) and rng.random() < 0.8:
                values.update(stage="opportunity", opportunity_at=mql_at + timedelta(days=14))
                if age > timedelta(days=35) and rng.random() < 0.3:
                    values.update(
                        stage="won",
                        closed_at=mql_at + timedelta(days=34),
                        outcome="won",
                        amount=float(rng.randrange(1200, 3000)),
                    )
    for key in ("sql_at", "opportunity_at", "closed_at", "recycled_at"):
        if isinstance(values.get(key), datetime) and values[key] > now:  # type: ignore[operator]
            values.pop(key)
            values["stage"] = "sal" if key == "sql_at" else "sql"
    return record


FOLLOW_UP_DAYS = (2, 5, 9, 13, 18, 24, 32, 41)  # with the first touch: 3 in 14d, 5 in 28d, 8 in 49d


def _follow_up(
    record: LeadRecord, first: datetime, rep: str, now: datetime, rng: random.Random
) -> None:
    """Most reps keep the cadence and accept within a day; some drop off after a few tries."""
    kept = len(FOLLOW_UP_DAYS) if rng.random() < 0.92 else rng.randrange(0, 4)
    for days in FOLLOW_UP_DAYS[:kept]:
        at = first + timedelta(days=days, hours=rng.uniform(-6, 6))
        if at > now:
            break
        record.touches.append(TouchRecord(record.external_id, at, "email", rep))
    accepted = first + timedelta(hours=rng.randrange(1, 20))
    if accepted < now and rng.random() < 0.97:
        record.values["sal_at"] = accepted
        record.values["stage"] = "sal"


def run_demo(
    engine: Engine, renderer: Renderer, *, now: datetime, seed: int = 7
) -> tuple[Agreement, DemoStats]:
    """Apply the demo agreement and load a generated quarter; returns what was loaded."""
    text = demo_agreement_text(renderer, now)
    agreement = apply_agreement(engine, text, now=now, applied_by="demo").agreement
    records = generate_leads(agreement, now, random.Random(seed))
    with engine.begin() as connection:
        upsert_leads(connection, records, source_system="native", origin="import")
    stats = DemoStats(since=period_bounds(agreement.business_calendar().today(now), "quarter")[0])
    for record in records:
        values = record.values
        stats.leads += 1
        stats.mqls += 1
        stats.by_source[str(values["source"])] += 1
        if values.get("sql_at"):
            stats.sqls += 1
            stats.sql_by_source[str(values["source"])] += 1
        stats.won += values.get("outcome") == "won"
        stats.recycled += values.get("stage") == "recycled"
        stats.untouched += "first_touch_at" not in values and values.get("stage") == "mql"
    return agreement, stats


def demo_alerts(
    engine: Engine, renderer: Renderer, *, now: datetime
) -> tuple[datetime, ScanResult]:
    """What the breach scan would send now; at night or on a weekend, what it would send an
    hour into the next working day (nobody is pinged outside working hours)."""
    result = scan(engine, renderer, now=now, dry_run=True)
    if result.messages or result.agreement is None or not result.waiting_for_hours:
        return now, result
    later = next_open(result.agreement.business_calendar(), now) + timedelta(hours=1)
    return later, scan(engine, renderer, now=later, dry_run=True)
