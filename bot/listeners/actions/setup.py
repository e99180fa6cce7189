"""An admin's set-up in the App Home tab: the Slack user an unmatched CRM owner is."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot.deps import Deps
from bot.domain.agreement_file import AgreementFileError
from bot.listeners.answering import pressed
from bot.services import lead_actions
from bot.services.agreement_edits import NotARep, map_owner, set_out_of_office, set_rep, set_team
from bot.slack import ids
from bot.slack.messages.home import owner_of_block

log = logging.getLogger(__name__)


@pressed
def handle_setup_owner(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    """The admin picked the person behind a CRM owner: a new agreement version maps the owner
    to their email, and the owner's leads are theirs at once (their clocks start)."""
    from bot.listeners.events.app_home import publish_home

    user = body["user"]["id"]
    action = (body.get("actions") or [{}])[0]
    found = owner_of_block(str(action.get("block_id") or ""))
    if user not in deps.settings.admins or found is None:
        log.warning("set-up refused: %s is no admin, or block %r names no owner", user, found)
        publish_home(client, deps, user)
        return
    crm, owner = found
    email = lead_actions.email_of(deps.engine, client, str(action.get("selected_user") or ""))
    if email is None:
        note = deps.renderer.parts("home/parts.txt.j2").no_email(owner)
    else:
        applied, leads = map_owner(
            deps.engine, crm, owner, email, by=f"slack:{user}", now=datetime.now(UTC)
        )
        note = deps.renderer.parts("home/parts.txt.j2").mapped(owner, email, leads, applied)
    publish_home(client, deps, user, note=note)


@pressed
def handle_setup_away(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    """Save in an admin's Home: the picked rep is out of office from the first day to the last
    (a new agreement version; their clocks stop on those days)."""
    from bot.listeners.events.app_home import publish_home

    user = body["user"]["id"]
    if user not in deps.settings.admins:
        log.warning("set-up refused: %s is no admin", user)
        publish_home(client, deps, user)
        return
    parts = deps.renderer.parts("home/parts.txt.j2")
    picked = _state(body).get(ids.SETUP_AWAY) or {}
    rep = (picked.get(ids.SETUP_AWAY_REP) or {}).get("selected_user")
    first = _day((picked.get(ids.SETUP_AWAY_FROM) or {}).get("selected_date"))
    last = _day((picked.get(ids.SETUP_AWAY_UNTIL) or {}).get("selected_date")) or first
    email = lead_actions.email_of(deps.engine, client, rep) if rep else None
    if email is None or first is None or last is None or last < first or last < date.today():
        publish_home(client, deps, user, note=parts.away_incomplete())
        return
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    try:
        applied = set_out_of_office(
            deps.engine, email, days, by=f"slack:{user}", now=datetime.now(UTC)
        )
    except NotARep:
        publish_home(client, deps, user, note=parts.away_not_a_rep(email))
        return
    publish_home(client, deps, user, note=parts.away_saved(email, first, last, applied))


@pressed
def handle_team_save(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    """Save in a team's row of an admin's Home: its channel and stand-up time."""
    from bot.listeners.events.app_home import publish_home

    user = body["user"]["id"]
    if user not in deps.settings.admins:
        log.warning("set-up refused: %s is no admin", user)
        publish_home(client, deps, user)
        return
    parts = deps.renderer.parts("home/parts.txt.j2")
    name = str((body.get("actions") or [{}])[0].get("value") or "")
    picked = _state(body).get(f"{ids.SETUP_TEAM}{name}"[:255]) or {}
    channel = (picked.get(ids.TEAM_CHANNEL) or {}).get("selected_conversation")
    standup = (picked.get(ids.TEAM_STANDUP) or {}).get("selected_time")
    if not name or not channel or not standup:
        publish_home(client, deps, user, note=parts.not_saved("pick a channel and a time"))
        return
    try:
        applied = set_team(deps.engine, name, channel=channel, standup=standup,
                           by=f"slack:{user}", now=datetime.now(UTC))  # fmt: skip
    except (AgreementFileError, LookupError) as error:
        publish_home(client, deps, user, note=parts.not_saved(str(error)))
        return
    publish_home(client, deps, user, note=parts.team_saved(name, channel, standup, applied))


@pressed
def handle_rep_save(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    """Save in the rep row of an admin's Home: the picked person is a rep of that team."""
    from bot.listeners.events.app_home import publish_home

    user = body["user"]["id"]
    if user not in deps.settings.admins:
        log.warning("set-up refused: %s is no admin", user)
        publish_home(client, deps, user)
        return
    parts = deps.renderer.parts("home/parts.txt.j2")
    picked = _state(body).get(ids.SETUP_REP) or {}
    rep = (picked.get(ids.REP_USER) or {}).get("selected_user")
    team = ((picked.get(ids.REP_TEAM) or {}).get("selected_option") or {}).get("value")
    boss = (picked.get(ids.REP_MANAGER) or {}).get("selected_user")
    email = lead_actions.email_of(deps.engine, client, rep) if rep else None
    manager = lead_actions.email_of(deps.engine, client, boss) if boss else None
    if email is None or not team or (boss and manager is None):
        publish_home(client, deps, user, note=parts.rep_incomplete())
        return
    try:
        applied = set_rep(deps.engine, email, team=team, manager=manager,
                          by=f"slack:{user}", now=datetime.now(UTC))  # fmt: skip
    except AgreementFileError as error:
        publish_home(client, deps, user, note=parts.not_saved(str(error)))
        return
    publish_home(client, deps, user, note=parts.rep_saved(email, team, manager, applied))


def handle_setup_input(ack: Ack) -> None:
    """A pick in a set-up row: kept in the Home view's state until its Save."""
    ack()


def _state(body: dict) -> dict:
    return ((body.get("view") or {}).get("state") or {}).get("values") or {}


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
