"""The stand-up's action items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, func, select, update

from storage.models import ACTION_ITEMS


@dataclass(frozen=True)
class ActionItem:
    id: int
    team: str
    text: str
    owner: str  # a Slack user id
    due: date
    created_by: str


def add(
    connection: Connection, *, team: str, text: str, owner: str, due: date, by: str, at: datetime
) -> int:
    statement = (
        ACTION_ITEMS.insert()
        .returning(ACTION_ITEMS.c.id)
        .values(team=team, text=text, owner=owner, due=due, created_by=by, created_at=at)
    )
    return int(connection.execute(statement).scalar_one())


def open_items(connection: Connection, *, team: str, at: datetime) -> list[ActionItem]:
    """The team's items added before `at` and not done by then, the earliest due first."""
    c = ACTION_ITEMS.c
    rows = connection.execute(
        select(c.id, c.team, c.text, c.owner, c.due, c.created_by)
        .where(c.team == team, c.created_at < at, (c.done_at.is_(None)) | (c.done_at >= at))
        .order_by(c.due, c.id)
    )
    return [ActionItem(*row) for row in rows]


def get(connection: Connection, item_id: int) -> tuple[ActionItem, datetime | None] | None:
    """The item and when it was done (None: open)."""
    c = ACTION_ITEMS.c
    row = connection.execute(
        select(c.id, c.team, c.text, c.owner, c.due, c.created_by, c.done_at).where(c.id == item_id)
    ).first()
    return (ActionItem(*row[:6]), row[6]) if row else None


def mark_done(connection: Connection, item_id: int, *, by: str, at: datetime) -> bool:
    """False if it was done already."""
    done = connection.execute(
        update(ACTION_ITEMS)
        .where(ACTION_ITEMS.c.id == item_id, ACTION_ITEMS.c.done_at.is_(None))
        .values(done_at=at, done_by=by)
        .returning(ACTION_ITEMS.c.id)
    )
    return done.scalar() is not None


def done_between(connection: Connection, *, team: str, since: datetime, until: datetime) -> int:
    """The team's items marked done in [since, until)."""
    c = ACTION_ITEMS.c
    return int(
        connection.execute(
            select(func.count()).where(c.team == team, c.done_at >= since, c.done_at < until)
        ).scalar()
        or 0
    )
