"""Changes made in Slack to the agreement: each is a new version, stored through the same
validation as the file (`apply_agreement`), its text the file's own with that one change, so the
stored text stays the reviewable record (tomlkit keeps every comment and layout)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import tomlkit
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.services.agreements import Applied, apply_agreement
from storage import queries


class NoAgreementApplied(Exception):
    """There is no version to change yet: the first comes from the file (`sla apply`)."""


class NotARep(LookupError):
    """The person is not a rep of the agreement."""


def set_out_of_office(
    engine: Engine, email: str, days: list[date], *, by: str, now: datetime
) -> Applied:
    """Add `days` to the rep's `out_of_office` (earlier days are kept): their SLA clocks do
    not run on those days, and the new version re-times their open leads."""
    document = _latest_document(engine)
    reps = document.get("reps") or []
    rep = next((each for each in reps if str(each.get("email", "")).lower() == email), None)
    if rep is None:
        raise NotARep(email)
    known = {date.fromisoformat(str(day)) for day in rep.get("out_of_office", [])}
    rep["out_of_office"] = sorted(known | set(days))
    return apply_agreement(engine, tomlkit.dumps(document), now=now, applied_by=by)


def without_none(value: Any) -> Any:
    """JSON terms as TOML can hold them (TOML has no null: an unset key is left out)."""
    if isinstance(value, dict):
        return {key: without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_none(item) for item in value]
    return value


def map_owner(
    engine: Engine, crm: str, owner: str, email: str, *, by: str, now: datetime
) -> tuple[Applied, int]:
    """`[crm.<crm>.owners] "<owner>" = "<email>"`: a CRM owner nobody matched is this person
    from now on; their leads kept unowned get them at once (no re-import). Returns the version
    and how many leads were assigned."""
    from bot.intake.unowned import assign_known_owners

    document = _latest_document(engine)
    crm_table = document.setdefault("crm", tomlkit.table())
    section = crm_table.setdefault(crm, tomlkit.table())
    owners = section.setdefault("owners", tomlkit.table())
    owners[owner] = email
    applied = apply_agreement(engine, tomlkit.dumps(document), now=now, applied_by=by)
    return applied, assign_known_owners(engine, applied.agreement)


def set_team(
    engine: Engine, name: str, *, channel: str, standup: str, by: str, now: datetime
) -> Applied:
    """A team's stand-up channel and time; the clock follows the new version's stand-up."""
    document = _latest_document(engine)
    team = next((each for each in document.get("teams") or [] if each.get("name") == name), None)
    if team is None:
        raise LookupError(f"no team named {name!r}")
    team["channel"], team["standup"] = channel, standup
    return apply_agreement(engine, tomlkit.dumps(document), now=now, applied_by=by)


def set_rep(
    engine: Engine, email: str, *, team: str, manager: str | None, by: str, now: datetime
) -> Applied:
    """A rep of `team` (managed by `manager`): added, or moved when they are one already."""
    document = _latest_document(engine)
    reps = document.get("reps")
    if reps is None:
        reps = document["reps"] = tomlkit.aot()
    rep = next((each for each in reps if str(each.get("email", "")).lower() == email), None)
    if rep is None:
        rep = tomlkit.table()
        rep["email"] = email
        reps.append(rep)
    rep["team"] = team
    if manager:
        rep["manager"] = manager
    elif "manager" in rep:
        del rep["manager"]
    return apply_agreement(engine, tomlkit.dumps(document), now=now, applied_by=by)


def newest_text(engine: Engine) -> str:
    """The newest version as its file: the text applied, with the changes made in Slack."""
    return tomlkit.dumps(_latest_document(engine))


def _latest_document(engine: Engine) -> Any:
    """The newest version's text as a TOML document to edit."""
    with Session(engine) as session:
        latest = queries.latest_agreement(session)
    if latest is None:
        raise NoAgreementApplied("no agreement has been applied")
    if latest.source_text:
        return tomlkit.parse(latest.source_text)
    return tomlkit.item(without_none(latest.terms))  # a version stored from terms alone
