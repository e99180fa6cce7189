"""Batch writes for ingestion: upsert leads by external id, record touches and stage history.

Everything runs on the caller's connection, inside the caller's transaction, so an import or a
webhook is applied whole or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)

from bot.domain.leads import LEAD_FIELDS, STAGE_OF_FIELD, LeadRecord, TouchRecord
from storage.bulk import bulk_insert, chunks, driver_values, python_values, sqlite_time
from storage.db import dialect_insert
from storage.models import EVENTS, LEADS, STAGES, TOUCHES
from storage.routing import end_hand_off

COLUMNS = [name for name in LEAD_FIELDS if name != "lead_id"] + [
    "crm_url",
    "crm_owner",
    "history_at",
    "crm_times",  # a live sync's modification time per property (webhooks keep older ones out)
]
INSERT_COLUMNS = (*COLUMNS, "source_system", "external_id", "row_hash", "updated_at")


@dataclass
class LeadCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, more: LeadCounts) -> None:
        self.inserted += more.inserted
        self.updated += more.updated
        self.unchanged += more.unchanged


def has_leads(connection: Connection, source_system: str) -> bool:
    statement = select(LEADS.c.id).where(LEADS.c.source_system == source_system).limit(1)
    return connection.execute(statement).first() is not None


StoredLead = tuple[int, str | None, bool]  # (id, row_hash, touched: has a first touch)
Known = dict[str, StoredLead]  # external id → what is stored of that lead


def lead_ids(connection: Connection, *, source_system: str, external_ids: Sequence[str]) -> Known:
    """external id → (id, row_hash, touched) for those that exist. Through the driver: a sync
    or an import looks up every record it reads, and SQLAlchemy's rendering of a 900-value
    IN (…) costs more than the query."""
    found: Known = {}
    mark = "?" if connection.dialect.name == "sqlite" else "%s"
    for chunk in chunks(list(external_ids)):
        rows = connection.exec_driver_sql(
            "SELECT external_id, id, row_hash, first_touch_at IS NOT NULL FROM lead "
            f"WHERE source_system = {mark} AND external_id IN ({', '.join([mark] * len(chunk))})",
            (source_system, *chunk),
        )
        for external_id, lead_id, row_hash, touched in rows:
            found[external_id] = (lead_id, row_hash, bool(touched))
    return found


STAGE_COLUMNS = ("lead_id", "stage", "at", "origin")


def _record_stages(connection: Connection, leads: ColumnElement[bool], origin: str) -> None:
    """The stage history of `leads` as their rows now stand, written by the database from
    their own timestamps in one statement; stages already recorded are left as they are."""

    def reached(stage, column):
        return select(LEADS.c.id, stage, column, literal(origin)).where(leads, column.is_not(None))

    parts = [reached(literal("lead"), LEADS.c.created_at)]
    parts += [reached(literal(stage), LEADS.c[column]) for column, stage in STAGE_OF_FIELD.items()]
    parts.append(
        reached(LEADS.c.outcome, LEADS.c.closed_at).where(LEADS.c.outcome.in_(("won", "lost")))
    )
    statement = dialect_insert(connection, STAGES).from_select(STAGE_COLUMNS, union_all(*parts))
    connection.execute(statement.on_conflict_do_nothing())


_UPDATE = (
    update(LEADS)
    .where(LEADS.c.id == bindparam("_id"))
    .values(
        {
            name: func.coalesce(bindparam(f"v_{name}", type_=LEADS.c[name].type), LEADS.c[name])
            for name in COLUMNS
        }
        | {
            "row_hash": bindparam("v_row_hash"),
            "updated_at": bindparam("v_updated_at"),
            "clocks_stale": True,
        }
    )
)


LEAD_KEY = "source_system, external_id"
TOUCH_COLUMNS = ("lead_id", "rep_email", "kind", "touched_at")
TOUCH_KEY = ", ".join(TOUCH_COLUMNS)  # the unique constraint: a repeated touch is kept once


def max_lead_id(connection: Connection) -> int:
    return connection.execute(select(func.max(LEADS.c.id))).scalar() or 0


def record_stages_above(connection: Connection, last_id: int, origin: str) -> None:
    """The stage history of the leads inserted since `last_id` was the highest id: the
    transaction holds SQLite's write lock; on PostgreSQL a lead committed meanwhile by a
    webhook brings its own history (recorded stages are left as they are)."""
    _record_stages(connection, LEADS.c.id > last_id, origin)


def _update_params(lead_id: int, record: LeadRecord, now: datetime) -> dict:
    params = {f"v_{name}": record.values.get(name) for name in COLUMNS}
    params.update(_id=lead_id, v_row_hash=record.digest(), v_updated_at=now)
    return params


def upsert_leads(
    connection: Connection,
    records: Sequence[LeadRecord],
    *,
    source_system: str,
    origin: str,
    known: Known | None = None,
    new_stages: bool = True,
) -> LeadCounts:
    """Insert new leads, update changed ones (a blank value never erases a stored one), leave
    unchanged ones alone; record the stage history of what was new or changed. `known` is
    `lead_ids` for these records when the caller has just looked them up ({}: none can exist,
    and any that does after all is found by the insert's conflict). With `new_stages` False
    the caller records the new leads' history itself, once (`record_stages_above`)."""
    merged: dict[str, LeadRecord] = {}
    for record in records:  # the same id twice in one batch: the later row wins
        earlier = merged.get(record.external_id)
        if earlier is None:
            merged[record.external_id] = record
        else:
            merged[record.external_id] = LeadRecord(
                record.external_id,
                {**earlier.values, **record.values},
                [*earlier.touches, *record.touches],
            )
    existing = (
        known
        if known is not None
        else lead_ids(connection, source_system=source_system, external_ids=list(merged))
    )
    new: list[LeadRecord] = []
    changed: list[tuple[int, LeadRecord]] = []
    unchanged = 0
    for external_id, record in merged.items():
        found = existing.get(external_id)
        if found is None:
            new.append(record)
        elif found[1] != record.digest():
            changed.append((found[0], record))
        else:
            unchanged += 1
    counts = insert_leads(
        connection,
        new_lead_rows(new, sqlite=connection.dialect.name == "sqlite"),
        source_system=source_system,
        origin=origin,
        new_stages=new_stages,
    )
    counts.unchanged += unchanged
    counts.updated += _update_leads(connection, changed, source_system, origin)
    return counts


NewLeadRow = tuple[str, str, tuple[object, ...], list[TouchRecord]]
"""A lead as bulk reads hand it on: (external id, fingerprint, its values in COLUMNS' order as
the driver takes them, touches). Cheaper than a LeadRecord to build, to pass between
processes (text, not datetimes) and to insert."""


def new_lead_rows(records: Sequence[LeadRecord], *, sqlite: bool) -> list[NewLeadRow]:
    values = driver_values(
        [tuple(map(record.values.get, COLUMNS)) for record in records],
        "lead",
        COLUMNS,
        sqlite=sqlite,
    )
    return [
        (record.external_id, record.digest(), row, record.touches)
        for record, row in zip(records, values, strict=True)
    ]


def _lead_record(row: NewLeadRow, *, sqlite: bool) -> LeadRecord:
    external_id, digest, values, touches = row
    given = python_values(values, "lead", COLUMNS, sqlite=sqlite)
    return LeadRecord(
        external_id,
        {name: value for name, value in zip(COLUMNS, given, strict=True) if value is not None},
        touches,
        fingerprint=digest,
    )


def insert_leads(
    connection: Connection,
    rows: Sequence[NewLeadRow],
    *,
    source_system: str,
    origin: str,
    new_stages: bool = True,
) -> LeadCounts:
    """Insert leads not stored when they were read, in one bulk write. One stored meanwhile
    (a webhook's), or met earlier in the same read (a file that repeats an id), is updated
    from this row as `upsert_leads` would: the later row wins, a blank erases nothing."""
    if not rows:
        return LeadCounts()
    sqlite = connection.dialect.name == "sqlite"
    now = datetime.now(UTC)
    updated_at = sqlite_time(now) if sqlite else now
    last_id = max_lead_id(connection) if new_stages else 0
    inserted = bulk_insert(
        connection,
        "lead",
        INSERT_COLUMNS,
        [
            (*values, source_system, external_id, digest, updated_at)
            for external_id, digest, values, _ in rows
        ],
        skip_conflicts=LEAD_KEY,
        converted=True,
    )
    counts = LeadCounts(inserted=len(rows))
    new_ids = {row[0] for row in rows}
    if inserted != len(rows):  # some were stored already: theirs is the stored fingerprint
        stored = lead_ids(connection, source_system=source_system, external_ids=list(new_ids))
        differing = [
            (found[0], _lead_record(row, sqlite=sqlite))
            for row in rows
            if (found := stored.get(row[0])) is not None and found[1] != row[1]
        ]
        counts.inserted = inserted if inserted >= 0 else len(rows) - len(differing)
        counts.unchanged = len(rows) - counts.inserted - len(differing)
        new_ids -= {record.external_id for _, record in differing}
        counts.updated = _update_leads(connection, differing, source_system, origin)
    if new_stages:
        record_stages_above(connection, last_id, origin)
    touches = [touch for row in rows if row[0] in new_ids for touch in row[3]]
    if touches:
        record_touches(connection, touches, source_system=source_system, new=new_ids)
    return counts


def _update_leads(
    connection: Connection,
    changed: Sequence[tuple[int, LeadRecord]],
    source_system: str,
    origin: str,
) -> int:
    """Write what changed of stored leads (`changed`: (id, record)): owners the CRM moved
    start a new hand-off; the stage history and touches follow. Returns the leads updated."""
    if not changed:
        return 0
    now = datetime.now(UTC)
    moved = _owners_changed(connection, changed, now)
    connection.execute(
        _UPDATE, [_update_params(lead_id, record, now) for lead_id, record in changed]
    )
    _new_hand_offs(connection, moved, now)
    for chunk in chunks([lead_id for lead_id, _ in changed]):
        _record_stages(connection, LEADS.c.id.in_(chunk), origin)
    touches = [touch for _, record in changed for touch in record.touches]
    if touches:
        record_touches(connection, touches, source_system=source_system)
    return len(changed)


@dataclass(frozen=True)
class _Moved:
    """A lead whose owner the CRM changed, and when its new hand-off starts."""

    lead_id: int
    before: str
    after: str
    starts: datetime


def _owners_changed(
    connection: Connection, changed: Sequence[tuple[int, LeadRecord]], now: datetime
) -> list[_Moved]:
    """The leads whose owner the CRM changed (a record that names no owner changes none). The
    new hand-off starts at the CRM's own assignment time where it gives a newer one, else now."""
    records = {lead_id: record for lead_id, record in changed if record.values.get("owner_email")}
    moved = []
    for chunk in chunks(list(records)):
        rows = connection.execute(
            select(LEADS.c.id, LEADS.c.owner_email, LEADS.c.assigned_at).where(
                LEADS.c.id.in_(chunk)
            )
        )
        for lead_id, owner, assigned in rows:
            after = str(records[lead_id].values["owner_email"])
            if not owner or owner == after:
                continue
            given = records[lead_id].values.get("assigned_at")
            stored = _aware(assigned)
            newer = isinstance(given, datetime) and (stored is None or given > stored)
            moved.append(_Moved(lead_id, owner, after, given if newer else now))  # type: ignore[arg-type]
    return moved


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _new_hand_offs(connection: Connection, moved: list[_Moved], now: datetime) -> None:
    """An owner changed in the CRM is a reassignment: a new hand-off (the lead's clocks start
    again for the new owner, nothing told twice) and an event in the lead's history."""
    if not moved:
        return
    for chunk in chunks([each.lead_id for each in moved]):
        end_hand_off(connection, chunk)
    connection.execute(
        update(LEADS)
        .where(LEADS.c.id == bindparam("_id"))
        .values(assigned_at=bindparam("_starts"), covered_for=None),
        [{"_id": each.lead_id, "_starts": each.starts} for each in moved],
    )
    connection.execute(
        insert(EVENTS),
        [
            {"lead_id": each.lead_id, "at": now, "kind": "crm_owner", "by": "crm",
             "from_owner": each.before, "to_owner": each.after}
            for each in moved
        ],
    )  # fmt: skip


def record_touches(
    connection: Connection,
    touches: Sequence[TouchRecord],
    *,
    source_system: str,
    new: Collection[str] = (),
) -> tuple[int, list[int]]:
    """Record touches (repeats are ignored) and move each lead's first touch earlier where a
    touch precedes it. A touch inferred from a CRM status is recorded only for a lead with no
    touch yet (a re-import must not add one each time). A touch at the very instant of one the
    lead has is that touch come back (a Contacted press logged in the CRM at the press's
    time, read again by a sync or a webhook): it is not recorded twice (`new`: external ids of
    leads inserted just now, which have no touch to compare with). Returns (touches recorded,
    indexes of touches whose lead is unknown)."""
    known = lead_ids(
        connection,
        source_system=source_system,
        external_ids=list({t.lead_external_id for t in touches}),
    )
    instants = _touch_instants(
        connection, [found[0] for key, found in known.items() if found[2] and key not in new]
    )
    rows, unknown = [], []
    earliest: dict[int, datetime] = {}
    for index, touch in enumerate(touches):
        found = known.get(touch.lead_external_id)
        if found is None:
            unknown.append(index)
            continue
        lead_id = found[0]
        if touch.kind == "inferred" and (found[2] or lead_id in earliest):
            continue
        if (lead_id, _utc(touch.touched_at)) in instants:
            continue
        rows.append((lead_id, touch.rep_email, touch.kind, touch.touched_at))
        if lead_id not in earliest or touch.touched_at < earliest[lead_id]:
            earliest[lead_id] = touch.touched_at
    recorded = bulk_insert(connection, "touch", TOUCH_COLUMNS, rows, skip_conflicts=TOUCH_KEY)
    if earliest:  # a touch counts for the cadence rules: the lead's clocks need a new look
        sqlite = connection.dialect.name == "sqlite"
        mark = "?" if sqlite else "%s"
        firsts = []
        for lead_id, at in earliest.items():
            value = sqlite_time(at) if sqlite else at
            firsts.append((value, value, lead_id))
        connection.exec_driver_sql(
            f"UPDATE lead SET clocks_stale = TRUE, first_touch_at = CASE WHEN first_touch_at "
            f"IS NULL OR first_touch_at > {mark} THEN {mark} ELSE first_touch_at END "
            f"WHERE id = {mark}",
            firsts,
        )
    return recorded, unknown


def _touch_instants(connection: Connection, lead_ids: Sequence[int]) -> set[tuple[int, datetime]]:
    """(lead id, instant) of every touch these leads have (only leads with a touch are asked:
    a backfill's new leads cost nothing)."""
    found: set[tuple[int, datetime]] = set()
    for chunk in chunks(list(lead_ids)):
        rows = connection.execute(
            select(TOUCHES.c.lead_id, TOUCHES.c.touched_at).where(TOUCHES.c.lead_id.in_(chunk))
        )
        found.update((lead_id, _utc(at)) for lead_id, at in rows)
    return found


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def crm_times(
    connection: Connection, *, source_system: str, external_ids: Sequence[str]
) -> dict[str, dict[str, int]]:
    """external id → {property: occurredAt ms} of the values stored from the CRM's events."""
    found: dict[str, dict[str, int]] = {}
    for chunk in chunks(list(external_ids)):
        rows = connection.execute(
            select(LEADS.c.external_id, LEADS.c.crm_times).where(
                LEADS.c.source_system == source_system, LEADS.c.external_id.in_(chunk)
            )
        )
        for external_id, times in rows:
            found[external_id] = dict(times or {})
    return found


def save_crm_times(
    connection: Connection, *, source_system: str, times: dict[str, dict[str, int]]
) -> None:
    if times:  # through the driver: a sync writes one per record
        mark = "?" if connection.dialect.name == "sqlite" else "%s"
        connection.exec_driver_sql(
            f"UPDATE lead SET crm_times = {mark} WHERE source_system = {mark} "
            f"AND external_id = {mark}",
            [(json.dumps(value), source_system, key) for key, value in times.items()],
        )


def unmatched_owners(connection: Connection) -> list[tuple[str, str, int]]:
    """(source system, owner as the CRM wrote it, leads) of the owners nobody matches, the
    most leads first."""
    return [
        (system, owner, count)
        for system, owner, count in connection.execute(
            select(LEADS.c.source_system, LEADS.c.crm_owner, func.count())
            .where(LEADS.c.owner_email.is_(None), LEADS.c.crm_owner.is_not(None))
            .group_by(LEADS.c.source_system, LEADS.c.crm_owner)
            .order_by(func.count().desc(), LEADS.c.crm_owner)
        )
    ]


def unowned_crm_owners(connection: Connection) -> list[tuple[str, str]]:
    """(source system, owner as the CRM wrote it) of leads stored without a known owner."""
    return [
        (system, owner)
        for system, owner in connection.execute(
            select(LEADS.c.source_system, LEADS.c.crm_owner)
            .where(LEADS.c.owner_email.is_(None), LEADS.c.crm_owner.is_not(None))
            .distinct()
        )
    ]


def assign_owner(connection: Connection, *, source_system: str, crm_owner: str, email: str) -> int:
    """Give every unowned lead of that CRM owner its rep (their clocks start)."""
    return connection.execute(
        update(LEADS)
        .where(
            LEADS.c.source_system == source_system,
            LEADS.c.crm_owner == crm_owner,
            LEADS.c.owner_email.is_(None),
        )
        .values(owner_email=email, clocks_stale=True)
    ).rowcount
