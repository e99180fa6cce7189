"""Batch writes for ingestion: upsert leads by external id, record touches and stage history.

Everything runs on the caller's connection, inside the caller's transaction, so an import or a
webhook is applied whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, func, select, update

from bot.domain.ingest import LEAD_FIELDS, STAGE_OF_FIELD, LeadRecord, TouchRecord
from storage.db import dialect_insert
from storage.models import Lead, Touch

LEADS = Lead.__table__
TOUCHES = Touch.__table__
COLUMNS = [name for name in LEAD_FIELDS if name != "lead_id"] + ["crm_url"]
INSERT_COLUMNS = (*COLUMNS, "source_system", "external_id", "row_hash", "updated_at")
CHUNK = 900  # ids per IN (...) query


@dataclass
class LeadCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def _insert_ignoring_duplicates(connection: Connection, table, rows: list[dict]) -> int:  # type: ignore[no-untyped-def]
    if not rows:
        return 0
    # RETURNING counts what was really inserted: executemany's rowcount is -1 on PostgreSQL
    statement = dialect_insert(connection, table).on_conflict_do_nothing().returning(table.c.id)
    return len(connection.execute(statement, rows).all())


def _bulk_insert(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    rows: list[tuple],
    *,
    ignore_conflicts: bool = False,
) -> None:
    """executemany straight through the driver: no per-value processing by SQLAlchemy, which
    costs more than the insert itself at a million rows. SQLite gets datetimes in the text
    form SQLAlchemy itself stores (naive UTC); PostgreSQL takes them as they are."""
    if not rows:
        return
    sqlite = connection.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
        + (" ON CONFLICT DO NOTHING" if ignore_conflicts else "")
    )
    if sqlite:
        rows = [tuple(_sqlite_value(value) for value in row) for row in rows]
    connection.exec_driver_sql(sql, rows)


def _sqlite_value(value: object) -> object:
    """The text SQLAlchemy stores for a datetime on SQLite ("2026-11-02 15:05:00.000000")."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = (value if value.tzinfo is UTC else value.astimezone(UTC)).replace(tzinfo=None)
        return value.isoformat(" ", "microseconds")
    return value


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def lead_ids(
    connection: Connection, *, source_system: str, external_ids: Sequence[str]
) -> dict[str, tuple[int, str | None, datetime | None]]:
    """external id → (id, row_hash, first_touch_at) for those that exist."""
    found: dict[str, tuple[int, str | None, datetime | None]] = {}
    for chunk in _chunks(list(external_ids)):
        rows = connection.execute(
            select(LEADS.c.external_id, LEADS.c.id, LEADS.c.row_hash, LEADS.c.first_touch_at).where(
                LEADS.c.source_system == source_system, LEADS.c.external_id.in_(chunk)
            )
        )
        for external_id, lead_id, row_hash, first_touch in rows:
            found[external_id] = (lead_id, row_hash, first_touch)
    return found


STAGE_COLUMNS = ("lead_id", "stage", "at", "origin")


def _stage_rows(lead_id: int, values: dict, origin: str) -> list[tuple]:
    rows = [
        (lead_id, stage, values[column], origin)
        for column, stage in STAGE_OF_FIELD.items()
        if values.get(column) is not None
    ]
    if values.get("created_at") is not None:
        rows.append((lead_id, "lead", values["created_at"], origin))
    if values.get("closed_at") is not None and values.get("outcome") in ("won", "lost"):
        rows.append((lead_id, values["outcome"], values["closed_at"], origin))
    return rows


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


def upsert_leads(
    connection: Connection, records: Sequence[LeadRecord], *, source_system: str, origin: str
) -> LeadCounts:
    """Insert new leads, update changed ones (a blank value never erases a stored one), leave
    unchanged ones alone; record the stage history of what was new or changed."""
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
    existing = lead_ids(connection, source_system=source_system, external_ids=list(merged))
    now = datetime.now(UTC)
    counts = LeadCounts()
    new_rows: list[tuple] = []
    new_ids: list[str] = []
    changed_rows, changed = [], []
    for external_id, record in merged.items():
        digest = record.digest()
        found = existing.get(external_id)
        if found is None:
            get = record.values.get
            new_rows.append(
                (*(get(name) for name in COLUMNS), source_system, external_id, digest, now)
            )
            new_ids.append(external_id)
        elif found[1] != digest:
            params = {f"v_{name}": record.values.get(name) for name in COLUMNS}
            params.update(_id=found[0], v_row_hash=digest, v_updated_at=now)
            changed_rows.append(params)
            changed.append((found[0], record))
        else:
            counts.unchanged += 1
    if new_rows:
        _bulk_insert(connection, "lead", INSERT_COLUMNS, new_rows)
        counts.inserted = len(new_rows)
        ids = lead_ids(connection, source_system=source_system, external_ids=new_ids)
        changed.extend((ids[external_id][0], merged[external_id]) for external_id in new_ids)
    if changed_rows:
        connection.execute(_UPDATE, changed_rows)
        counts.updated = len(changed_rows)
    stage_rows = [
        row for lead_id, record in changed for row in _stage_rows(lead_id, record.values, origin)
    ]
    _bulk_insert(connection, "stage_change", STAGE_COLUMNS, stage_rows, ignore_conflicts=True)
    touches = [touch for _, record in changed for touch in record.touches]
    if touches:
        record_touches(connection, touches, source_system=source_system)
    return counts


def record_touches(
    connection: Connection, touches: Sequence[TouchRecord], *, source_system: str
) -> tuple[int, list[int]]:
    """Record touches (repeats are ignored) and move each lead's first touch earlier where a
    touch precedes it. Returns (touches recorded, indexes of touches whose lead is unknown)."""
    known = lead_ids(
        connection,
        source_system=source_system,
        external_ids=list({t.lead_external_id for t in touches}),
    )
    rows, unknown = [], []
    earliest: dict[int, datetime] = {}
    for index, touch in enumerate(touches):
        found = known.get(touch.lead_external_id)
        if found is None:
            unknown.append(index)
            continue
        lead_id = found[0]
        rows.append(
            {
                "lead_id": lead_id,
                "rep_email": touch.rep_email,
                "kind": touch.kind,
                "touched_at": touch.touched_at,
            }
        )
        if lead_id not in earliest or touch.touched_at < earliest[lead_id]:
            earliest[lead_id] = touch.touched_at
    recorded = _insert_ignoring_duplicates(connection, TOUCHES, rows)
    if earliest:  # a touch counts for the cadence rules: the lead's clocks need a new look
        connection.execute(
            update(LEADS).where(LEADS.c.id == bindparam("_id")).values(clocks_stale=True),
            [{"_id": lead_id} for lead_id in earliest],
        )
        connection.execute(
            update(LEADS)
            .where(
                LEADS.c.id == bindparam("_id"),
                (LEADS.c.first_touch_at.is_(None)) | (LEADS.c.first_touch_at > bindparam("_at")),
            )
            .values(first_touch_at=bindparam("_at")),
            [{"_id": lead_id, "_at": at} for lead_id, at in earliest.items()],
        )
    return recorded, unknown
