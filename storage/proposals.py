"""Proposed agreement versions and the signatories' votes on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, select, update

from storage.alerts import utc
from storage.db import dialect_insert
from storage.models import PROPOSALS, VERSIONS, VOTES


@dataclass(frozen=True)
class Proposal:
    id: int
    kind: str  # edit | recalibration
    text: str
    base_version: int
    in_force_from: date
    proposed_by: str
    created_at: datetime
    status: str  # open | signed | changes_requested | superseded
    version: int | None
    card: int | None  # the outbox item of its card
    notes: dict


@dataclass(frozen=True)
class Vote:
    user_id: str
    decision: str  # approve | changes
    reason: str
    at: datetime


def _proposal(row) -> Proposal:
    return Proposal(
        row.id,
        row.kind,
        row.text,
        row.base_version,
        row.in_force_from,
        row.proposed_by,
        utc(row.created_at),
        row.status,
        row.version,
        row.card,
        row.notes or {},
    )


def add(
    connection: Connection,
    *,
    kind: str,
    text: str,
    base_version: int,
    in_force_from: date,
    proposed_by: str,
    at: datetime,
    notes: dict,
) -> int:
    statement = (
        PROPOSALS.insert()
        .returning(PROPOSALS.c.id)
        .values(
            kind=kind,
            text=text,
            base_version=base_version,
            in_force_from=in_force_from,
            proposed_by=proposed_by,
            created_at=at,
            status="open",
            notes=notes,
        )
    )
    return int(connection.execute(statement).scalar_one())


def get(connection: Connection, proposal_id: int) -> Proposal | None:
    row = connection.execute(select(PROPOSALS).where(PROPOSALS.c.id == proposal_id)).first()
    return _proposal(row) if row else None


def open_ones(connection: Connection) -> list[Proposal]:
    rows = connection.execute(
        select(PROPOSALS).where(PROPOSALS.c.status == "open").order_by(PROPOSALS.c.id)
    )
    return [_proposal(row) for row in rows]


def latest_of_kind(connection: Connection, kind: str) -> Proposal | None:
    row = connection.execute(
        select(PROPOSALS).where(PROPOSALS.c.kind == kind).order_by(PROPOSALS.c.id.desc()).limit(1)
    ).first()
    return _proposal(row) if row else None


def set_card(connection: Connection, proposal_id: int, item_id: int | None) -> None:
    connection.execute(update(PROPOSALS).where(PROPOSALS.c.id == proposal_id).values(card=item_id))


def close(
    connection: Connection,
    proposal_id: int,
    *,
    status: str,
    at: datetime,
    version: int | None = None,
) -> bool:
    """Close an open proposal; False if it was closed already (a race: the first wins)."""
    done = connection.execute(
        update(PROPOSALS)
        .where(PROPOSALS.c.id == proposal_id, PROPOSALS.c.status == "open")
        .values(status=status, decided_at=at, version=version)
        .returning(PROPOSALS.c.id)
    )
    return done.scalar() is not None


def vote(
    connection: Connection,
    proposal_id: int,
    *,
    user_id: str,
    decision: str,
    reason: str,
    at: datetime,
) -> bool:
    """Record a signatory's answer; False if they answered this proposal before."""
    statement = (
        dialect_insert(connection, VOTES)
        .values(proposal_id=proposal_id, user_id=user_id, decision=decision, reason=reason, at=at)
        .on_conflict_do_nothing(index_elements=["proposal_id", "user_id"])
        .returning(VOTES.c.id)
    )
    return connection.execute(statement).scalar() is not None


def votes(connection: Connection, proposal_id: int) -> list[Vote]:
    rows = connection.execute(
        select(VOTES.c.user_id, VOTES.c.decision, VOTES.c.reason, VOTES.c.at)
        .where(VOTES.c.proposal_id == proposal_id)
        .order_by(VOTES.c.at, VOTES.c.id)
    )
    return [Vote(user, decision, reason, utc(at)) for user, decision, reason, at in rows]


def signed_since(connection: Connection, since: datetime) -> list[tuple[int, date, list, str]]:
    """(version, in force from, signed by, applied by) of the versions stored since `since`,
    oldest first: what the next stand-up notes."""
    rows = connection.execute(
        select(
            VERSIONS.c.version,
            VERSIONS.c.in_force_from,
            VERSIONS.c.signed_by,
            VERSIONS.c.applied_by,
        )
        .where(VERSIONS.c.applied_at >= since)
        .order_by(VERSIONS.c.version)
    )
    return [(int(v), day, list(signed or []), str(by)) for v, day, signed, by in rows]
