"""Queries as keyword-only functions over a Session. Nothing else in slabot writes SQL."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import Connection
from sqlmodel import Session, col, func, select

from storage.models import VERSIONS, AgreementVersion, SlackUser


def agreement_in_force(session: Session, *, on: date) -> AgreementVersion | None:
    """The newest version in force on `on` (latest `in_force_from`, then highest version)."""
    statement = (
        select(AgreementVersion)
        .where(AgreementVersion.in_force_from <= on)
        .order_by(col(AgreementVersion.in_force_from).desc(), col(AgreementVersion.version).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def agreement_version_key_in_force(session: Session, *, on: date) -> tuple[int, int] | None:
    """(id, version) of the version in force on `on`: a cheap probe for callers that cache the
    immutable terms by id."""
    statement = (
        select(AgreementVersion.id, AgreementVersion.version)
        .where(AgreementVersion.in_force_from <= on)
        .order_by(col(AgreementVersion.in_force_from).desc(), col(AgreementVersion.version).desc())
        .limit(1)
    )
    row = session.exec(statement).first()
    return (int(row[0]), row[1]) if row and row[0] is not None else None


def latest_agreement(session: Session) -> AgreementVersion | None:
    statement = select(AgreementVersion).order_by(col(AgreementVersion.version).desc()).limit(1)
    return session.exec(statement).first()


def agreement_version_keys(connection: Connection) -> list[tuple[int, int, date, datetime]]:
    """(id, version, in_force_from, applied_at) of every stored version, by version."""
    statement = select(
        VERSIONS.c.id, VERSIONS.c.version, VERSIONS.c.in_force_from, VERSIONS.c.applied_at
    ).order_by(VERSIONS.c.version)
    return [tuple(row) for row in connection.execute(statement)]


def agreement_terms(connection: Connection, ids: Collection[int]) -> dict[int, dict]:
    """id → the stored terms of those versions."""
    statement = select(VERSIONS.c.id, VERSIONS.c.terms).where(VERSIONS.c.id.in_(list(ids)))
    return {row.id: row.terms for row in connection.execute(statement)}


def add_agreement_version(
    session: Session,
    *,
    name: str,
    effective: date,
    in_force_from: date,
    period: str,
    terms: dict,
    source_text: str = "",
    applied_by: str = "",
    applied_at: datetime,
    signed_by: list[dict] | None = None,
) -> AgreementVersion:
    """Store a new version numbered after the last one."""
    last = session.exec(select(func.max(AgreementVersion.version))).one()
    row = AgreementVersion(
        version=(last or 0) + 1,
        name=name,
        effective=effective,
        in_force_from=in_force_from,
        period=period,
        terms=terms,
        source_text=source_text,
        applied_by=applied_by,
        applied_at=applied_at,
        signed_by=signed_by or [],
    )
    session.add(row)
    session.flush()
    return row


def remember_slack_ids(session: Session, reps: list[dict]) -> None:
    """The Slack ids the agreement gives reps (`slack = "U…"`): they win over any lookup."""
    for spec in reps:
        if spec.get("slack"):
            identity = session.get(SlackUser, spec["email"]) or SlackUser(
                email=spec["email"], user_id=spec["slack"]
            )
            identity.user_id = spec["slack"]
            session.add(identity)
