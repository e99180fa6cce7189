"""Queries as keyword-only functions over a Session. Nothing else in slabot writes SQL."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, func, select

from storage.models import AgreementVersion, Rep, SlackUser, Team


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
    )
    session.add(row)
    session.flush()
    return row


def sync_teams_and_reps(session: Session, *, teams: list[dict], reps: list[dict]) -> None:
    """Make the team and rep tables match the agreement (resolved Slack ids are kept)."""
    by_name = {team.name: team for team in session.exec(select(Team)).all()}
    for spec in teams:
        team = by_name.get(spec["name"]) or Team(name=spec["name"], channel=spec["channel"])
        team.channel, team.standup, team.timezone = (
            spec["channel"],
            spec["standup"],
            spec["timezone"],
        )
        session.add(team)
        by_name[team.name] = team
    session.flush()
    by_email = {rep.email: rep for rep in session.exec(select(Rep)).all()}
    for spec in reps:
        rep = by_email.get(spec["email"]) or Rep(email=spec["email"])
        rep.team_id = by_name[spec["team"]].id
        rep.manager_email = spec.get("manager")
        rep.timezone, rep.hours = spec.get("timezone"), spec.get("hours")
        rep.out_of_office = [str(day) for day in spec.get("out_of_office", [])]
        if spec.get("slack"):  # the agreement's override wins over any earlier lookup
            rep.slack_user_id = spec["slack"]
            identity = session.get(SlackUser, spec["email"]) or SlackUser(
                email=spec["email"], user_id=spec["slack"]
            )
            identity.user_id = spec["slack"]
            session.add(identity)
        session.add(rep)
