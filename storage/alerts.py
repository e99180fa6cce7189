"""Queries for SLA clocks: which leads need their clocks computed, which clocks the scan must
look at now, and each audience's open queue."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    type_coerce,
    update,
)

from bot.domain.sla_rules import level_at
from storage.bulk import bulk_insert, chunks
from storage.db import advisory_lock, dialect_insert
from storage.models import APPLIED, CLOCKS, LEADS, STAGES, TOUCHES

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
    thousand, and a frozen dataclass sets each field through object.__setattr__)."""

    id: int
    owner_email: str | None
    company: str | None
    name: str | None
    source: str | None
    segment: str | None
    score: float | None
    crm_url: str | None
    assigned_at: datetime | None
    snoozed_until: datetime | None


LEAD_COLUMNS = (
    LEADS.c.id,
    LEADS.c.owner_email,
    LEADS.c.company,
    LEADS.c.name,
    LEADS.c.source,
    LEADS.c.segment,
    LEADS.c.score,
    LEADS.c.crm_url,
    LEADS.c.assigned_at,
    LEADS.c.snoozed_until,
)


def _lead_row(row) -> LeadRow:
    return LeadRow(
        row.id,
        row.owner_email,
        row.company,
        row.name,
        row.source,
        row.segment,
        row.score,
        row.crm_url,
        utc(row.assigned_at),
        utc(row.snoozed_until),
    )


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
    id: int
    lead: LeadRow
    rule: str
    warn_at: datetime
    due_at: datetime
    manager_at: datetime
    channel_at: datetime
    alerted: int
    # (now, level) of the last question: a scan asks each clock's level at its `now` several
    # times (telling, filtering, ordering, counting)
    _level_at: tuple[datetime, int] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    @property
    def instants(self) -> tuple[datetime, datetime, datetime, datetime]:
        return self.warn_at, self.due_at, self.manager_at, self.channel_at

    def level(self, now: datetime) -> int:
        known = self._level_at
        if known is not None and known[0] == now:
            return known[1]
        level = level_at(self.instants, now)
        self._level_at = (now, level)
        return level


def _clock_rows(connection: Connection, condition) -> list[ClockRow]:
    """Clocks with their leads. On SQLite the instants are read as their stored text and
    parsed by `datetime.fromisoformat` (SQLAlchemy's own parser is the busy scan's largest
    cost: six instants for each of twenty thousand clocks)."""
    as_text = connection.dialect.name == "sqlite"
    instant = _from_text if as_text else utc

    def column(name: str):
        found = CLOCKS.c[name] if name in CLOCKS.c else LEADS.c[name]
        return type_coerce(found, String).label(name) if as_text else found

    statement = (
        select(
            CLOCKS.c.id.label("clock_id"),
            CLOCKS.c.rule,
            *(column(name) for name in ("warn_at", "due_at", "manager_at", "channel_at")),
            CLOCKS.c.alerted,
            *(column(c.name) if c.name in TIMES else c for c in LEAD_COLUMNS),
        )
        .select_from(CLOCKS.join(LEADS, LEADS.c.id == CLOCKS.c.lead_id))
        .where(condition)
    )
    rows = connection.execute(statement).all()  # one fetch, not one call a row
    return [
        ClockRow(
            clock_id,
            LeadRow(  # type: ignore[call-arg]  # the row's lead columns, in LeadRow's order
                *lead,
                instant(assigned_at),
                instant(snoozed_until),
            ),
            rule,
            instant(warn_at),  # type: ignore[arg-type]
            instant(due_at),  # type: ignore[arg-type]
            instant(manager_at),  # type: ignore[arg-type]
            instant(channel_at),  # type: ignore[arg-type]
            alerted,
        )
        for (
            clock_id,
            rule,
            warn_at,
            due_at,
            manager_at,
            channel_at,
            alerted,
            *lead,
            assigned_at,
            snoozed_until,
        ) in rows
    ]


TIMES = {"assigned_at", "snoozed_until"}


def _from_text(value: str | None) -> datetime | None:
    """A timestamp as SQLite stores it ("2026-11-23 17:00:00.000000", UTC)."""
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def due_clocks(connection: Connection, *, now: datetime) -> list[ClockRow]:
    """Open clocks with a level not yet told that is reached by `now` (one indexed range)."""
    return _clock_rows(connection, CLOCKS.c.next_at <= now)


def queue_clocks(
    connection: Connection,
    *,
    owners: Iterable[str],
    now: datetime,
    min_level: int = 1,
    not_due: bool = False,
) -> list[ClockRow]:
    """The open clocks of these owners' leads that have reached `min_level` by `now` (0: all
    open clocks); with `not_due`, only those `due_clocks` does not return."""
    column = (None, CLOCKS.c.warn_at, CLOCKS.c.due_at, CLOCKS.c.manager_at, CLOCKS.c.channel_at)[
        min_level
    ]
    found: list[ClockRow] = []
    for chunk in chunks(sorted(set(owners))):
        # spelt as the partial index of open clocks is, so both databases use it
        condition = and_(LEADS.c.owner_email.in_(chunk), text("sla_clock.status = 'open'"))
        if column is not None:
            condition = and_(condition, column <= now)
        if not_due:
            condition = and_(condition, or_(CLOCKS.c.next_at.is_(None), CLOCKS.c.next_at > now))
        found += _clock_rows(connection, condition)
    return found


def mark_alerted(connection: Connection, changes: list[tuple[int, int, datetime | None]]) -> None:
    """(clock id, level told, next_at) for each clock the scan queued a message for."""
    if changes:
        connection.execute(
            update(CLOCKS)
            .where(CLOCKS.c.id == bindparam("_id"))
            .values(alerted=bindparam("_alerted"), next_at=bindparam("_next")),
            [{"_id": cid, "_alerted": level, "_next": nxt} for cid, level, nxt in changes],
        )


def owned_by(owners: list[str]) -> ColumnElement[bool]:
    return LEADS.c.owner_email.in_(owners)


def the_lead(lead_id: int) -> ColumnElement[bool]:
    return LEADS.c.id == lead_id


def lead_row(connection: Connection, lead_id: int) -> LeadRow | None:
    row = connection.execute(select(*LEAD_COLUMNS).where(LEADS.c.id == lead_id)).first()
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
