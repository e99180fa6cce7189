"""The outbox: every message to send or update, keyed for idempotency, and the Slack identity
cache. The sender claims a row before it calls Slack and records Slack's answer after."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, Connection, and_, case, func, or_, select, update

from storage.alerts import utc
from storage.bulk import chunks
from storage.db import advisory_lock, begin_writing, dialect_insert
from storage.models import OUTBOX, USERS


class Kind(StrEnum):
    """What an outbox item is: whom it goes to and how it is delivered."""

    REP = "sla_rep"  # a rep's DM: their leads due soon and breached
    MANAGER = "sla_manager"  # a manager's DM: breaches that stayed open
    CHANNEL = "sla_channel"  # the team channel's escalation
    DIGEST = "digest"  # the stand-up digest, in the team's channel
    CHART = "chart"  # the digest's burn-up, in its thread
    UPDATE = "update"  # a new text for a message already sent (a redraw, a digest's)
    FOLD = "fold"  # an alert list a newer one replaced, folded to a line (with the alerts)
    CRM = "crm"  # a Slack action written back to the CRM
    HANDOFF = "handoff"  # a rep's DM: a lead routing gave them (reassigned, covered, returned)
    AGREEMENT = "agreement"  # a proposal's card, or a signed version's news, in its channel
    REPLY = "reply"  # a message in the thread of one already sent (a proposal's card)
    CHECKIN = "checkin"  # a rep's DM before the stand-up: their breached leads, to answer
    WEEKLY = "weekly"  # a manager's DM: the team's week, at its last workday's close


# bulk alerts, paced by the clock; digests, charts and interaction redraws go first
ALERT_KINDS = (Kind.REP, Kind.MANAGER, Kind.CHANNEL, Kind.FOLD, Kind.HANDOFF)
UPDATE_KINDS = (Kind.UPDATE, Kind.FOLD)  # a whole new text: only the newest one matters
PACE_LOCK = 7215002  # PostgreSQL advisory lock: one clock at a time counts the minute's sends
DM_KINDS = (Kind.REP, Kind.MANAGER)  # a person's queue, redrawn in place after a press
PERSON_KINDS = (
    *DM_KINDS,
    Kind.HANDOFF,
    Kind.CHECKIN,
    Kind.WEEKLY,
)  # sent to a person (by email): a DM


@dataclass(frozen=True)
class Item:
    id: int
    key: str
    kind: str
    audience: str
    day: date
    payload: dict
    update_of: int | None
    status: str
    attempts: int
    channel: str | None
    ts: str | None
    created_at: datetime


SUPERSEDED = "superseded"  # a status: replaced by a newer list before it was sent


def _item(row) -> Item:
    return Item(
        row.id,
        row.key,
        row.kind,
        row.audience,
        row.day,
        row.payload,
        row.update_of,
        row.status,
        row.attempts,
        row.channel,
        row.ts,
        utc(row.created_at),
    )


_ITEM_COLUMNS = (
    OUTBOX.c.id,
    OUTBOX.c.key,
    OUTBOX.c.kind,
    OUTBOX.c.audience,
    OUTBOX.c.day,
    OUTBOX.c.payload,
    OUTBOX.c.update_of,
    OUTBOX.c.status,
    OUTBOX.c.attempts,
    OUTBOX.c.channel,
    OUTBOX.c.ts,
    OUTBOX.c.created_at,
)


def enqueue(
    connection: Connection,
    *,
    key: str,
    kind: str,
    audience: str,
    day: date,
    payload: dict,
    now: datetime,
    update_of: int | None = None,
) -> int | None:
    """Queue a message; None when one with this key is already queued (or sent). A new text
    for a sent message replaces the texts for it still waiting to be tried."""
    statement = (
        dialect_insert(connection, OUTBOX)
        .values(
            key=key,
            kind=kind,
            audience=audience,
            day=day,
            payload=payload,
            update_of=update_of,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(OUTBOX.c.id)
    )
    item_id = connection.execute(statement).scalar()
    if item_id is not None and kind in UPDATE_KINDS and update_of is not None:
        connection.execute(
            update(OUTBOX)
            .where(
                OUTBOX.c.update_of == update_of,
                OUTBOX.c.kind.in_(UPDATE_KINDS),
                OUTBOX.c.id < item_id,
                _untried(),
            )
            .values(status=SUPERSEDED, last_error="replaced by a newer text before it was sent")
        )
    return item_id


def _untried() -> ColumnElement[bool]:
    """Queued and never tried: it cannot have reached Slack, so a newer one may replace it."""
    return and_(OUTBOX.c.status == "pending", OUTBOX.c.attempts == 0)


def newer_text_exists(connection: Connection, item: Item) -> bool:
    """Whether a newer text for the same message is sent or on its way (this one, tried before
    and due again, would put an older text back)."""
    return (
        connection.execute(
            select(OUTBOX.c.id)
            .where(
                OUTBOX.c.update_of == item.update_of,
                OUTBOX.c.kind.in_(UPDATE_KINDS),
                OUTBOX.c.id > item.id,
                OUTBOX.c.status.in_(("pending", "sending", "sent")),
            )
            .limit(1)
        ).first()
        is not None
    )


def newer_list_exists(connection: Connection, item: Item) -> bool:
    """Whether a newer list for the same person is sent or on its way (this one, tried before
    and due again, could not be replaced when it came: sent now, it would be stale)."""
    return (
        connection.execute(
            select(OUTBOX.c.id)
            .where(
                OUTBOX.c.kind == item.kind,
                OUTBOX.c.audience == item.audience,
                OUTBOX.c.id > item.id,
                OUTBOX.c.status.in_(("pending", "sending", "sent")),
            )
            .limit(1)
        ).first()
        is not None
    )


def latest_of_day(connection: Connection, *, kind: str, audience: str, day: date) -> Item | None:
    """The newest message of this kind to this audience on this day, if any (one replaced
    before it was sent does not count)."""
    row = connection.execute(
        select(*_ITEM_COLUMNS)
        .where(
            OUTBOX.c.kind == kind,
            OUTBOX.c.audience == audience,
            OUTBOX.c.day == day,
            OUTBOX.c.status != SUPERSEDED,
        )
        .order_by(OUTBOX.c.id.desc())
        .limit(1)
    ).first()
    return _item(row) if row else None


def item(connection: Connection, item_id: int) -> Item | None:
    row = connection.execute(select(*_ITEM_COLUMNS).where(OUTBOX.c.id == item_id)).first()
    return _item(row) if row else None


def item_by_key(connection: Connection, key: str) -> Item | None:
    row = connection.execute(select(*_ITEM_COLUMNS).where(OUTBOX.c.key == key)).first()
    return _item(row) if row else None


def item_at(connection: Connection, *, channel: str, ts: str) -> Item | None:
    """The message posted at (channel, ts): not its updates, nor files threaded under it."""
    row = connection.execute(
        select(*_ITEM_COLUMNS)
        .where(OUTBOX.c.channel == channel, OUTBOX.c.ts == ts, OUTBOX.c.update_of.is_(None))
        .order_by(OUTBOX.c.id)
        .limit(1)
    ).first()
    return _item(row) if row else None


def due_items(
    connection: Connection,
    *,
    now: datetime,
    limit: int = 500,
    only: Collection[int] | None = None,
) -> list[Item]:
    """Pending items whose time has come: digests, charts and redraws first, then the alerts,
    oldest first (`only`: just these items)."""
    query = select(*_ITEM_COLUMNS).where(
        OUTBOX.c.status == "pending", OUTBOX.c.next_attempt_at <= now
    )
    if only is not None:
        query = query.where(OUTBOX.c.id.in_(list(only)))
    bulk = case((OUTBOX.c.kind.in_(ALERT_KINDS), 1), else_=0)
    rows = connection.execute(query.order_by(bulk, OUTBOX.c.id).limit(limit))
    return [_item(row) for row in rows]


def next_attempt(connection: Connection, only: Collection[int] | None = None) -> datetime | None:
    """When the earliest pending item may be tried (None: nothing is pending)."""
    query = select(func.min(OUTBOX.c.next_attempt_at)).where(OUTBOX.c.status == "pending")
    if only is not None:
        query = query.where(OUTBOX.c.id.in_(list(only)))
    return utc(connection.execute(query).scalar())


SEND_TAKES_AT_MOST = timedelta(minutes=10)  # a claimed send is answered or released by then


def alerts_sent_since(connection: Connection, since: datetime) -> tuple[int, int]:
    """(posts, folds): alert sends that may have reached Slack since `since`, by any sender
    (the clock's pace counts them) — claimed since, answered since (a long round's last sends
    arrive well after their claim, and Slack counts arrivals) or still going — new messages
    apart from folds (an update each). Holds the pace lock until the transaction ends, so two
    clocks never both take the same room."""
    if connection.dialect.name == "postgresql":
        connection.execute(advisory_lock("pg_advisory_xact_lock", PACE_LOCK))
    else:
        begin_writing(connection)
    fold = OUTBOX.c.kind == Kind.FOLD
    posts, folds = connection.execute(
        select(func.count().filter(~fold), func.count().filter(fold)).where(
            OUTBOX.c.kind.in_(ALERT_KINDS),
            OUTBOX.c.claimed_at >= since - SEND_TAKES_AT_MOST,
            or_(
                OUTBOX.c.claimed_at >= since,
                OUTBOX.c.sent_at >= since,
                OUTBOX.c.status == "sending",
            ),
        )
    ).one()
    return posts, folds


def counts(connection: Connection) -> dict[str, int]:
    rows = connection.execute(select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status))
    return {status: count for status, count in rows}


def claim(connection: Connection, item_id: int, *, now: datetime) -> bool:
    """Take a pending item for sending; False if another sender took it first."""
    result = connection.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == item_id, OUTBOX.c.status == "pending")
        .values(status="sending", claimed_at=now, attempts=OUTBOX.c.attempts + 1)
    )
    return result.rowcount == 1


def release_abandoned(connection: Connection, *, older_than: datetime) -> int:
    """Items a sender claimed and never finished (it died mid-send) go back to pending; their
    attempt count makes the next sender look in Slack before sending again."""
    result = connection.execute(
        update(OUTBOX)
        .where(OUTBOX.c.status == "sending", OUTBOX.c.claimed_at < older_than)
        .values(status="pending", last_error="abandoned mid-send")
    )
    return result.rowcount


def set_channel(connection: Connection, item_id: int, channel: str) -> None:
    connection.execute(update(OUTBOX).where(OUTBOX.c.id == item_id).values(channel=channel))


def mark_sent(
    connection: Connection, item_id: int, *, channel: str, ts: str, now: datetime
) -> None:
    connection.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == item_id)
        .values(status="sent", channel=channel, ts=ts, sent_at=now, last_error=None)
    )


def written_records(connection: Connection, crm: str, record_ids: Sequence[str]) -> set[str]:
    """Which of these CRM records slabot wrote itself (a write-back's record is kept as the
    `ts` of its sent outbox item)."""
    found: set[str] = set()
    for chunk in chunks(list(record_ids)):
        found.update(
            connection.execute(
                select(OUTBOX.c.ts).where(
                    OUTBOX.c.kind == Kind.CRM, OUTBOX.c.channel == crm, OUTBOX.c.ts.in_(chunk)
                )
            ).scalars()
        )
    return found


def supersede_unsent(connection: Connection, item_id: int) -> bool:
    """Replace a queued message nobody has tried to send yet (a newer list for the same
    audience says all it said); False if a sender has it, or it may have reached Slack."""
    return bool(
        connection.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == item_id, _untried())
            .values(status=SUPERSEDED, last_error="replaced by a newer list before it was sent")
        ).rowcount
    )


def retry_later(
    connection: Connection, item_id: int, *, at: datetime, error: str, reached_slack: bool = True
) -> None:
    """Back to pending until `at`. `reached_slack=False` (Slack answered 429: it did nothing)
    takes back the attempt the claim counted, so the item is not looked for in Slack before it
    is sent, and a newer list may still replace it."""
    attempts = OUTBOX.c.attempts if reached_slack else OUTBOX.c.attempts - 1
    connection.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == item_id)
        .values(status="pending", next_attempt_at=at, last_error=error[:500], attempts=attempts)
    )


def mark_superseded(connection: Connection, item_id: int, *, reason: str) -> None:
    connection.execute(
        update(OUTBOX).where(OUTBOX.c.id == item_id).values(status=SUPERSEDED, last_error=reason)
    )


def mark_failed(connection: Connection, item_id: int, *, error: str) -> None:
    connection.execute(
        update(OUTBOX).where(OUTBOX.c.id == item_id).values(status="failed", last_error=error[:500])
    )


def backoff(attempts: int, *, base: timedelta = timedelta(seconds=30)) -> timedelta:
    """30 s, 1 min, 2 min … at most 15 min between tries: an hour-long outage loses nothing."""
    return min(base * 2 ** max(0, attempts - 1), timedelta(minutes=15))


# -- Slack identities ----------------------------------------------------------------------
def cached_email(connection: Connection, user_id: str) -> str | None:
    return connection.execute(
        select(USERS.c.email).where(USERS.c.user_id == user_id).limit(1)
    ).scalar()


def cache_user(connection: Connection, *, email: str, user_id: str, now: datetime) -> None:
    statement = dialect_insert(connection, USERS).values(
        email=email, user_id=user_id, resolved_at=now
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["email"], set_={"user_id": user_id, "resolved_at": now}
        )
    )
