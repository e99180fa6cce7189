"""The morning check-in's answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, func, select

from storage.db import dialect_insert
from storage.models import CHECKINS

BLOCKER = 0  # the lead id of the "anything blocking you?" line


@dataclass(frozen=True)
class Answer:
    rep_email: str
    lead_id: int  # BLOCKER: the blocking line
    reason: str
    note: str


def answer(
    connection: Connection,
    *,
    team: str,
    day: date,
    rep_email: str,
    lead_id: int,
    reason: str,
    note: str,
    at: datetime,
) -> None:
    """Record (or change) a rep's answer about one lead, or their blocker."""
    statement = dialect_insert(connection, CHECKINS).values(
        team=team, day=day, rep_email=rep_email, lead_id=lead_id, reason=reason, note=note, at=at
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["team", "day", "rep_email", "lead_id"],
            set_={"reason": reason, "note": note, "at": at},
        )
    )


def answers(connection: Connection, *, team: str, day: date) -> list[Answer]:
    c = CHECKINS.c
    rows = connection.execute(
        select(c.rep_email, c.lead_id, c.reason, c.note)
        .where(c.team == team, c.day == day)
        .order_by(c.rep_email, c.lead_id)
    )
    return [Answer(*row) for row in rows]


def reasons_between(
    connection: Connection, *, team: str, first: date, last: date
) -> dict[str, int]:
    """What the check-ins of [first, last] said, per reason (the blocker lines left out)."""
    c = CHECKINS.c
    rows = connection.execute(
        select(c.reason, func.count())
        .where(c.team == team, c.day >= first, c.day <= last, c.lead_id != BLOCKER)
        .group_by(c.reason)
    )
    return {str(reason): int(n) for reason, n in rows}
