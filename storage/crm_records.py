"""A CRM record's life beyond its properties: deleted, restored, erased, merged.

Everything runs on the caller's connection, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Table, delete, select, update

from storage.db import dialect_insert
from storage.models import CLOCKS, LEADS, REJECTED, STAGES, TOUCHES

DELETED = "deleted"  # a lead's outcome once its CRM record is deleted
PERSONAL = ("email", "name", "company")  # what an erasure removes; counts and times stay
# a merged lead keeps the earliest time each of its records reached a stage
EARLIEST = (
    "created_at", "mql_at", "assigned_at", "sal_at", "sql_at", "opportunity_at",
    "first_touch_at",
)  # fmt: skip
FILLED = ("email", "name", "company", "source", "segment", "score", "owner_email", "crm_owner")


def close_deleted(
    connection: Connection, *, source_system: str, external_id: str, at: datetime
) -> bool:
    """The CRM deleted the record: an open lead closes then (out of every queue and clock,
    still counted as the MQL it was). False if slabot has no such open lead."""
    return _change(
        connection, source_system, external_id, LEADS.c.closed_at.is_(None),
        closed_at=at, outcome=DELETED,
    )  # fmt: skip


def reopen_restored(connection: Connection, *, source_system: str, external_id: str) -> bool:
    """The CRM restored a deleted record: its lead is open again."""
    return _change(
        connection, source_system, external_id, LEADS.c.outcome == DELETED,
        closed_at=None, outcome=None,
    )  # fmt: skip


def _change(
    connection: Connection,
    source_system: str,
    external_id: str,
    only: ColumnElement[bool],
    **values: object,
) -> bool:
    """Set `values` on the lead if `only` holds for it; its clocks are computed again."""
    statement = (
        update(LEADS)
        .where(LEADS.c.source_system == source_system, LEADS.c.external_id == external_id, only)
        .values(**values, clocks_stale=True, row_hash=None)
    )
    return bool(connection.execute(statement).rowcount)


def erase_personal_data(
    connection: Connection, *, source_system: str, external_id: str, event_key: str
) -> bool:
    """An erasure request: the lead's email, name and company are removed (its stages, times
    and touches stay, so every count does), and so are the rejected events about the record
    (`event_key`: the field of a rejected event that holds the record's id)."""
    erased = connection.execute(
        update(LEADS)
        .where(LEADS.c.source_system == source_system, LEADS.c.external_id == external_id)
        .values(dict.fromkeys(PERSONAL) | {"row_hash": None})
    ).rowcount
    kept = connection.execute(
        select(REJECTED.c.id, REJECTED.c.event).where(REJECTED.c.source_system == source_system)
    )
    about = [
        row.id
        for row in kept
        if isinstance(row.event, dict) and str(row.event.get(event_key)) == external_id
    ]
    if about:
        connection.execute(delete(REJECTED).where(REJECTED.c.id.in_(about)))
    return bool(erased or about)


def merge_leads(
    connection: Connection, *, source_system: str, into: str, merged: Sequence[str]
) -> bool:
    """The CRM merged `merged` into `into`: one lead remains under `into`, with the earliest
    time any of them reached each stage, every touch and stage of them all, and the values the
    survivor lacked; the others are gone (with their clocks). False if none is stored."""
    ids = [into, *merged]
    rows = {
        row.external_id: row
        for row in connection.execute(
            select(LEADS).where(
                LEADS.c.source_system == source_system, LEADS.c.external_id.in_(ids)
            )
        )
    }
    order = [rows[external_id] for external_id in ids if external_id in rows]
    if not order:
        return False
    survivor, others = order[0], order[1:]
    values: dict[str, object] = {"external_id": into, "clocks_stale": True, "row_hash": None}
    for column in EARLIEST:
        times = [row._mapping[column] for row in order if row._mapping[column] is not None]
        values[column] = min(times) if times else None
    for column in FILLED:
        values[column] = next(
            (row._mapping[column] for row in order if row._mapping[column] is not None), None
        )
    gone = [row.id for row in others]
    if gone:
        for table in (TOUCHES, STAGES):
            _move_rows(connection, table, gone, survivor.id)
        connection.execute(delete(CLOCKS).where(CLOCKS.c.lead_id.in_(gone)))
        connection.execute(delete(LEADS).where(LEADS.c.id.in_(gone)))
    connection.execute(update(LEADS).where(LEADS.c.id == survivor.id).values(values))
    return True


def _move_rows(
    connection: Connection, table: Table, from_leads: Sequence[int], to_lead: int
) -> None:
    """Give `to_lead` the rows of `table` that belong to `from_leads` (a row it already has
    is kept once), then remove theirs."""
    columns = [c.name for c in table.c if c.name not in ("id", "lead_id")]
    rows = [
        {**dict(zip(columns, row, strict=True)), "lead_id": to_lead}
        for row in connection.execute(
            select(*(table.c[name] for name in columns)).where(table.c.lead_id.in_(from_leads))
        )
    ]
    if rows:
        connection.execute(dialect_insert(connection, table).on_conflict_do_nothing(), rows)
    connection.execute(delete(table).where(table.c.lead_id.in_(from_leads)))
