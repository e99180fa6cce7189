"""Paused delivery: a service (Slack) that refused slabot's credentials as a whole. Kept in the
database so the clock, the web process's `/healthz` and `slabot status` all see it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from storage.alerts import utc
from storage.db import dialect_insert
from storage.models import OUTBOX, PAUSES

SLACK = "slack"  # the service whose refusals pause delivery


@dataclass(frozen=True)
class Pause:
    reason: str
    since: datetime
    checked_at: datetime


def pause(connection: Connection, service: str, *, reason: str, now: datetime) -> bool:
    """Pause sending to `service`; True if it was not paused already."""
    statement = dialect_insert(connection, PAUSES).values(
        service=service, reason=reason, since=now, checked_at=now
    )
    return bool(connection.execute(statement.on_conflict_do_nothing()).rowcount)


def paused(connection: Connection, service: str) -> Pause | None:
    row = connection.execute(select(PAUSES).where(PAUSES.c.service == service)).first()
    return None if row is None else Pause(row.reason, utc(row.since), utc(row.checked_at))


def checked(connection: Connection, service: str, *, reason: str, now: datetime) -> None:
    """A probe found the service still refusing (perhaps for another reason now)."""
    connection.execute(
        update(PAUSES).where(PAUSES.c.service == service).values(reason=reason, checked_at=now)
    )


def resume(connection: Connection, service: str) -> bool:
    """End the pause; True if there was one."""
    return bool(connection.execute(delete(PAUSES).where(PAUSES.c.service == service)).rowcount)


def refused_recipients(
    connection: Connection, errors: Sequence[str], *, since: datetime
) -> list[tuple[str, str, int]]:
    """(audience, Slack's error, messages) of messages failed for good since `since` because
    Slack refused that recipient (not the workspace), most messages first."""
    rows = connection.execute(
        select(OUTBOX.c.audience, OUTBOX.c.last_error, func.count())
        .where(
            OUTBOX.c.status == "failed",
            OUTBOX.c.last_error.in_(list(errors)),
            OUTBOX.c.created_at >= since,
        )
        .group_by(OUTBOX.c.audience, OUTBOX.c.last_error)
        .order_by(func.count().desc(), OUTBOX.c.audience)
    )
    return [(audience, error, count) for audience, error, count in rows]


def release_held(connection: Connection, errors: Sequence[str], *, now: datetime) -> int:
    """Make the messages held back by these refusals due now (the pause is over)."""
    return connection.execute(
        update(OUTBOX)
        .where(OUTBOX.c.status == "pending", OUTBOX.c.last_error.in_(list(errors)))
        .values(next_attempt_at=now)
    ).rowcount
