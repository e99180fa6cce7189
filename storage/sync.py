"""The live CRM sync's cursors (one per CRM and stream)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from storage.alerts import utc
from storage.db import dialect_insert
from storage.models import CURSORS


@dataclass(frozen=True)
class Cursor:
    crm: str
    stream: str
    position: datetime
    records: int
    at: datetime


def cursor(connection: Connection, crm: str, stream: str) -> datetime | None:
    """The modification time up to which the stream is stored (None: never synced)."""
    return utc(
        connection.execute(
            select(CURSORS.c.position).where(CURSORS.c.crm == crm, CURSORS.c.stream == stream)
        ).scalar()
    )


def advance(
    connection: Connection, crm: str, stream: str, *, position: datetime, records: int, at: datetime
) -> None:
    """Move the cursor to `position` in the caller's transaction (the one that stored the
    records up to it): a pass that dies before its commit re-reads them, never skips them."""
    statement = dialect_insert(connection, CURSORS).values(
        crm=crm, stream=stream, position=position, records=records, at=at
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["crm", "stream"],
            set_={"position": position, "records": CURSORS.c.records + records, "at": at},
        )
    )


def cursors(connection: Connection) -> list[Cursor]:
    rows = connection.execute(select(CURSORS).order_by(CURSORS.c.crm, CURSORS.c.stream))
    return [
        Cursor(row.crm, row.stream, utc(row.position), row.records, utc(row.at)) for row in rows
    ]
