"""Queries for SLA clocks: which leads need their clocks computed, which clocks the scan must
look at now, and each audience's open queue."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, overload

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy import column as sql_column

from bot.domain.sla_rules import Level
from storage.bulk import bulk_insert, chunks, one_of
from storage.db import advisory_lock, dialect_insert
from storage.models import APPLIED, CLOCKS, HELD_CLOCK, LEADS, STAGES, TOUCHES

SCAN_LOCK = 7215001  # PostgreSQL advisory lock: one scan evaluates at a time
CLOCK_TIMES = ("starts_at", "warn_at", "due_at", "manager_at", "channel_at")


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC; PostgreSQL aware datetimes in the session's zone. Always
    UTC here (a zone that is UTC by another name, such as the server's `Etc/UTC`, is kept:
    converting every instant of a busy scan costs more than the scan's own arithmetic)."""
    if value is None:
        return None
    zone = value.tzinfo
    if zone in _UTC_ZONES:
        return value
    if zone is None:
        return value.replace(tzinfo=UTC)
    if getattr(zone, "key", None) in ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu"):
        _UTC_ZONES.add(zone)
        return value
    return value.astimezone(UTC)


_UTC_ZONES: set[object] = {UTC}


@dataclass(slots=True)
class LeadRow:
    """A lead as alerts and queues show it (slotted, not frozen: a busy scan builds twenty
    thousand, and a frozen dataclass sets each field through object.__setattr__). A scan reads
    only what telling and ordering need (`id` to `snoozed_until`); `fill_details` adds what a
    shown line says to the few leads a message shows."""

    id: int
    owner_email: str | None
    score: float | None
    snoozed_until: datetime | None
    company: str | None = None
    name: str | None = None
    source: str | None = None
    segment: str | None = None
    crm_url: str | None = None
    assigned_at: datetime | None = None


LEAD_KEYS = (LEADS.c.id, LEADS.c.owner_email, LEADS.c.score, LEADS.c.snoozed_until)
LEAD_DETAILS = (
    LEADS.c.company,
    LEADS.c.name,
    LEADS.c.source,
    LEADS.c.segment,
    LEADS.c.crm_url,
    LEADS.c.assigned_at,
)


def _lead_row(row) -> LeadRow:
    return LeadRow(
        row.id,
        row.owner_email,
        row.score,
        utc(row.snoozed_until),
        row.company,
        row.name,
        row.source,
        row.segment,
        row.crm_url,
        utc(row.assigned_at),
    )


def fill_details(connection: Connection, leads: Iterable[LeadRow]) -> None:
    """Read what a shown line says of each of these leads (company, name, source, segment,
    CRM link, assignment) into rows read without it."""
    by_id: dict[int, list[LeadRow]] = {}
    for lead in leads:
        by_id.setdefault(lead.id, []).append(lead)
    for condition in one_of(connection, LEADS.c.id, list(by_id)):
        rows = connection.execute(select(LEADS.c.id, *LEAD_DETAILS).where(condition))
        for lead_id, company, name, source, segment, crm_url, assigned_at in rows:
            for lead in by_id[lead_id]:
                lead.company, lead.name, lead.source = company, name, source
                lead.segment, lead.crm_url, lead.assigned_at = segment, crm_url, utc(assigned_at)


@dataclass(frozen=True)
class StaleLead:
    id: int
    owner_email: str | None
    assigned_at: datetime | None
    first_touch_at: datetime | None
    accepted_at: datetime | None
    qualified_at: datetime | None
    ended_at: datetime | None
    history_at: datetime | None = None  # levels reached before it are not news (a backfill)


def serialize_scans(connection: Connection) -> None:
    """Take the scan lock for this transaction: two clocks never evaluate at once (the
    second waits, then finds everything already told). SQLite: the first write takes it."""
    if connection.dialect.name == "postgresql":
        connection.execute(advisory_lock("pg_advisory_xact_lock", SCAN_LOCK))
    else:
        connection.execute(text("DELETE FROM outbox WHERE 1 = 0"))


def plan_for_memory(connection: Connection) -> None:
    """On PostgreSQL, plan the rest of this transaction for rows in memory (a random read
    costs 1.1 sequential ones, as for an SSD, unless the server says less): a busy scan
    joins twenty thousand recent clocks to their leads, which the default cost of 4 turns
    into a read of every lead (135 ms instead of 53 over a million leads)."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text(
                "SELECT set_config('random_page_cost', "
                "least(current_setting('random_page_cost')::float, 1.1)::text, true)"
            )
        )


def stale_leads(
    connection: Connection, *, limit: int, among: ColumnElement[bool] | None = None
) -> list[StaleLead]:
    """Leads whose clocks must be (re)computed, a batch at a time, from the partial index of
    stale leads. SQLite uses that index only for its own condition spelt the same way (not
    `clocks_stale = 1`) and without an ORDER BY, which would walk the whole table by id."""
    rows = connection.execute(
        select(
            LEADS.c.id,
            LEADS.c.owner_email,
            LEADS.c.assigned_at,
            LEADS.c.first_touch_at,
            LEADS.c.sal_at,
            LEADS.c.sql_at,
            LEADS.c.opportunity_at,
            LEADS.c.recycled_at,
            LEADS.c.closed_at,
            LEADS.c.history_at,
        )
        .where(text("lead.clocks_stale"))
        .where(*([among] if among is not None else []))
        .limit(limit)
    )
    found = []
    for row in rows:
        accepted = [utc(t) for t in (row.sal_at, row.sql_at, row.opportunity_at) if t]
        qualified = [utc(t) for t in (row.sql_at, row.opportunity_at) if t]
        ended = [utc(t) for t in (row.recycled_at, row.closed_at) if t]
        found.append(
            StaleLead(
                row.id,
                row.owner_email,
                utc(row.assigned_at),
                utc(row.first_touch_at),
                min(accepted) if accepted else None,
                min(qualified) if qualified else None,
                min(ended) if ended else None,
                utc(row.history_at),
            )
        )
    return found


def stale_count(connection: Connection) -> int:
    """Leads marked stale, counted from their partial index (spelt as it is)."""
    return connection.execute(
        select(func.count()).select_from(LEADS).where(text("lead.clocks_stale"))
    ).scalar_one()


def touch_times(connection: Connection, lead_ids: Sequence[int]) -> dict[int, list[datetime]]:
    found: dict[int, list[datetime]] = {}
    for chunk in chunks(list(lead_ids)):
        rows = connection.execute(
            select(TOUCHES.c.lead_id, TOUCHES.c.touched_at).where(TOUCHES.c.lead_id.in_(chunk))
        )
        for lead_id, at in rows:
            found.setdefault(lead_id, []).append(utc(at))
    return found


def alerted_levels(connection: Connection, lead_ids: Sequence[int]) -> dict[tuple[int, str], int]:
    """(lead id, rule) → the level already told, for clocks that exist."""
    found: dict[tuple[int, str], int] = {}
    for chunk in chunks(list(lead_ids)):
        rows = connection.execute(
            select(CLOCKS.c.lead_id, CLOCKS.c.rule, CLOCKS.c.alerted).where(
                CLOCKS.c.lead_id.in_(chunk)
            )
        )
        found.update({(lead_id, rule): alerted for lead_id, rule, alerted in rows})
    return found


def save_clocks(
    connection: Connection, rows: list[dict], *, existing: set[tuple[int, str]], lead_ids: list[int]
) -> None:
    """Insert or update clock rows (dicts with every column but id) and mark the leads fresh."""
    new = [row for row in rows if (row["lead_id"], row["rule"]) not in existing]
    changed = [
        {**row, "_lead": row["lead_id"], "_rule": row["rule"]}
        for row in rows
        if (row["lead_id"], row["rule"]) in existing
    ]
    if new:  # straight through the driver: a first scan after an import writes a lot
        columns = list(new[0])
        bulk_insert(connection, "sla_clock", columns, [tuple(r[c] for c in columns) for r in new])
    if changed:
        values: dict[str, Any] = {
            name: bindparam(name)
            for name in ("status", *CLOCK_TIMES, "met_at", "took_minutes", "next_at")
        }
        connection.execute(
            update(CLOCKS)
            .where(CLOCKS.c.lead_id == bindparam("_lead"), CLOCKS.c.rule == bindparam("_rule"))
            .values(values),
            changed,
        )
    for chunk in chunks(lead_ids):
        connection.execute(update(LEADS).where(LEADS.c.id.in_(chunk)).values(clocks_stale=False))


def mark_all_open_stale(connection: Connection) -> None:
    """New terms: every lead with an open clock gets its clocks computed again."""
    open_leads = select(CLOCKS.c.lead_id).where(CLOCKS.c.status == "open")
    connection.execute(update(LEADS).where(LEADS.c.id.in_(open_leads)).values(clocks_stale=True))


@dataclass(slots=True)
class ClockRow:
    """An open clock as of the `now` it was read at: the level it has reached then (counted
    by the database: a busy scan reads twenty thousand) and its deadline."""

    id: int
    lead: LeadRow
    rule: str
    due_at: datetime
    alerted: int
    level: int


def _reached(now: datetime, clock: Any = CLOCKS.c) -> ColumnElement[int]:
    """The level a clock has reached by `now` (`clock`: its columns)."""
    return case(
        (clock.channel_at <= now, Level.CHANNEL),
        (clock.manager_at <= now, Level.MANAGER),
        (clock.due_at <= now, Level.BREACHED),
        (clock.warn_at <= now, Level.DUE_SOON),
        else_=Level.OK,
    )


def _instants(connection: Connection) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """How to select an instant and how to read it back: on SQLite as its stored text, parsed
    by `datetime.fromisoformat` (SQLAlchemy's own parser costs more than the rest of a busy
    scan's reading); on PostgreSQL as the driver returns it."""
    if connection.dialect.name == "sqlite":
        return (lambda found: type_coerce(found, String).label(found.name)), _from_text
    return (lambda found: found), utc


def _clock_rows(
    connection: Connection, condition, *, now: datetime, details: bool = True
) -> list[ClockRow]:
    """Open clocks with their leads (`details`: with what a line says of each lead; else
    `fill_details` adds it to the few a message shows)."""
    column, instant = _instants(connection)
    lead = LEADS.c
    lead_columns = [lead.id, lead.owner_email, lead.score, column(lead.snoozed_until)]
    if details:
        lead_columns += [lead.company, lead.name, lead.source, lead.segment, lead.crm_url]
        lead_columns.append(column(lead.assigned_at))
    statement = (
        select(CLOCKS.c.id, CLOCKS.c.rule, column(CLOCKS.c.due_at), CLOCKS.c.alerted, _reached(now))
        .add_columns(*lead_columns)
        .select_from(CLOCKS.join(LEADS, LEADS.c.id == CLOCKS.c.lead_id))
        .where(condition)
    )
    rows = connection.execute(statement).all()  # one fetch, not one call a row
    if not details:
        return [
            ClockRow(clock_id, LeadRow(lead_id, owner, score, instant(snoozed)), rule,
                     instant(due_at), alerted, level)
            for clock_id, rule, due_at, alerted, level, lead_id, owner, score, snoozed in rows
        ]  # fmt: skip
    return [
        ClockRow(
            clock_id,
            LeadRow(lead_id, owner, score, instant(snoozed), company, name, source, segment,
                    crm_url, instant(assigned_at)),
            rule, instant(due_at), alerted, level,
        )
        for (clock_id, rule, due_at, alerted, level, lead_id, owner, score, snoozed, company,
             name, source, segment, crm_url, assigned_at) in rows
    ]  # fmt: skip


def _from_text(value: str | None) -> datetime | None:
    """A timestamp as SQLite stores it ("2026-11-23 17:00:00.000000", UTC)."""
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def due_clocks(connection: Connection, *, now: datetime) -> list[ClockRow]:
    """Open clocks with a level not yet told that is reached by `now` (one indexed range),
    without their leads' details."""
    return _clock_rows(connection, CLOCKS.c.next_at <= now, now=now, details=False)


def held_clocks(connection: Connection, *, owners: Iterable[str], now: datetime) -> list[ClockRow]:
    """The open clocks of these owners' leads that have reached a level by `now` and are not
    due (`due_clocks` has the others): a queue's leads told before, or snoozed. Read from the
    partial index of held clocks — as many as are held, however many clocks are open — then
    their leads by id (not joined: PostgreSQL, which cannot count the held clocks from the
    table's statistics, hashed every lead of the owners for the join)."""
    column, instant = _instants(connection)
    # SQLite would read every open clock instead (its statistics say nothing of a partial
    # index, least of all an empty one): it is told, and the columns name no table for it
    indexed = " INDEXED BY ix_sla_clock_held" if connection.dialect.name == "sqlite" else ""
    clock = SimpleNamespace(**{c.name: sql_column(c.name, c.type) for c in CLOCKS.c})
    held = connection.execute(
        select(
            clock.id,
            clock.lead_id,
            clock.rule,
            column(clock.due_at),
            clock.alerted,
            _reached(now, clock),
        )
        .select_from(text(f"sla_clock{indexed}"))
        .where(
            text(HELD_CLOCK),  # spelt as the partial index is, so both databases use it
            clock.warn_at <= now,
            or_(clock.next_at.is_(None), clock.next_at > now),
        )
    ).all()
    wanted = set(owners)
    leads: dict[int, LeadRow] = {}
    lead = LEADS.c
    for condition in one_of(connection, lead.id, sorted({row.lead_id for row in held})):
        found = connection.execute(
            select(lead.id, lead.owner_email, lead.score, column(lead.snoozed_until)).where(
                condition
            )
        )
        for lead_id, owner, score, snoozed in found:
            if owner in wanted:
                leads[lead_id] = LeadRow(lead_id, owner, score, instant(snoozed))
    return [
        ClockRow(clock_id, leads[lead_id], rule, instant(due_at), alerted, level)
        for clock_id, lead_id, rule, due_at, alerted, level in held
        if lead_id in leads
    ]


def queue_clocks(
    connection: Connection,
    *,
    owners: Iterable[str],
    now: datetime,
    min_level: int = 1,
) -> list[ClockRow]:
    """The open clocks of these owners' leads that have reached `min_level` by `now` (0: all
    open clocks), with their leads' details."""
    column = (None, CLOCKS.c.warn_at, CLOCKS.c.due_at, CLOCKS.c.manager_at, CLOCKS.c.channel_at)[
        min_level
    ]
    found: list[ClockRow] = []
    for chunk in chunks(sorted(set(owners))):
        # spelt as the partial index of open clocks is, so both databases use it
        condition = and_(LEADS.c.owner_email.in_(chunk), text("sla_clock.status = 'open'"))
        if column is not None:
            condition = and_(condition, column <= now)
        found += _clock_rows(connection, condition, now=now)
    return found


def mark_alerted(connection: Connection, changes: list[tuple[int, int, datetime | None]]) -> None:
    """(clock id, level told, snoozed until) for each clock the scan told or found snoozed: it
    next needs the scan when the snooze ends, else when its next level is reached (None once
    the channel was told)."""
    if changes:
        told = bindparam("_alerted", type_=Integer)
        next_level = case(
            {0: CLOCKS.c.warn_at, 1: CLOCKS.c.due_at, 2: CLOCKS.c.manager_at,
             3: CLOCKS.c.channel_at},
            value=told,
        )  # fmt: skip
        until = bindparam("_until", type_=CLOCKS.c.next_at.type)
        connection.execute(
            update(CLOCKS)
            .where(CLOCKS.c.id == bindparam("_id"))
            .values(alerted=told, next_at=func.coalesce(until, next_level)),
            [{"_id": cid, "_alerted": level, "_until": until} for cid, level, until in changes],
        )


def owned_by(owners: list[str]) -> ColumnElement[bool]:
    return LEADS.c.owner_email.in_(owners)


def the_lead(lead_id: int) -> ColumnElement[bool]:
    return LEADS.c.id == lead_id


def lead_row(connection: Connection, lead_id: int) -> LeadRow | None:
    row = connection.execute(select(*LEAD_KEYS, *LEAD_DETAILS).where(LEADS.c.id == lead_id)).first()
    return _lead_row(row) if row else None


def crm_identity(connection: Connection, lead_id: int) -> tuple[str, str]:
    """(source system, the CRM's id) of a lead."""
    row = connection.execute(
        select(LEADS.c.source_system, LEADS.c.external_id).where(LEADS.c.id == lead_id)
    ).one()
    return str(row[0]), str(row[1])


def snooze_lead(connection: Connection, *, lead_id: int, until: datetime) -> None:
    """No alert for this lead before `until`: its open clocks wait until then."""
    connection.execute(update(LEADS).where(LEADS.c.id == lead_id).values(snoozed_until=until))
    connection.execute(
        update(CLOCKS)
        .where(CLOCKS.c.lead_id == lead_id, CLOCKS.c.next_at < until)
        .values(next_at=until)
    )


def add_touch(
    connection: Connection, *, lead_id: int, at: datetime, kind: str, rep_email: str
) -> None:
    """A touch recorded from Slack: it may be the first; the lead's clocks need a new look."""
    connection.execute(
        insert(TOUCHES).values(lead_id=lead_id, touched_at=at, kind=kind, rep_email=rep_email)
    )
    lead = LEADS.c
    connection.execute(
        update(LEADS)
        .where(lead.id == lead_id, lead.first_touch_at.is_(None) | (lead.first_touch_at > at))
        .values(first_touch_at=at)
    )
    connection.execute(
        update(LEADS).where(lead.id == lead_id).values(clocks_stale=True, updated_at=at)
    )


def recycle_lead(connection: Connection, *, lead_id: int, at: datetime, reason: str) -> None:
    connection.execute(
        update(LEADS)
        .where(LEADS.c.id == lead_id)
        .values(
            recycled_at=at,
            recycle_reason=reason,
            stage="recycled",
            clocks_stale=True,
            updated_at=at,
        )
    )
    connection.execute(
        insert(STAGES).values(lead_id=lead_id, stage="recycled", at=at, origin="slack")
    )


def claim_action(connection: Connection, *, key: str, at: datetime) -> bool:
    """Record that the press `key` is being applied; False if it already was (a double-click,
    a replay). In the caller's transaction, so a failed action can be pressed again."""
    statement = (
        dialect_insert(connection, APPLIED)
        .values(key=key, at=at)
        .on_conflict_do_nothing()
        .returning(APPLIED.c.key)
    )
    return connection.execute(statement).scalar() is not None  # rowcount: -1 under psycopg
