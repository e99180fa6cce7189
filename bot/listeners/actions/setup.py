"""An admin's set-up in the App Home tab: the Slack user an unmatched CRM owner is, a team's
channel and stand-up, a rep's team and manager, a rep's out-of-office days. Each Save is a new
agreement version; the Home is redrawn with what it did."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot.deps import Deps
from bot.domain.agreement_file import AgreementFileError
from bot.listeners.answering import pressed
from bot.services import lead_actions
from bot.services.agreement_edits import (
    NoAgreementApplied,
    NotARep,
    map_owner,
    set_out_of_office,
    set_rep,
    set_team,
)
from bot.slack import ids
from bot.slack.messages.home import owner_of_block

log = logging.getLogger(__name__)
Change = Callable[[dict, WebClient, Deps, str], str]


def admin_change(change: Change) -> Callable[..., None]:
    """A set-up action: anyone but an admin gets their Home redrawn unchanged (a forged pick
    changes nothing); for an admin, `change(body, client, deps, admin)` makes the change and
    returns the note the redrawn Home shows."""

    def work(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
        from bot.listeners.events.app_home import publish_home

        user = body["user"]["id"]
        if user not in deps.settings.admins:
            log.warning("set-up refused: %s is no admin", user)
            publish_home(client, deps, user)
            return
        publish_home(client, deps, user, note=change(body, client, deps, user))

    work.__name__, work.__doc__ = change.__name__, change.__doc__
    return pressed(work)


@admin_change
def handle_setup_owner(body: dict, client: WebClient, deps: Deps, admin: str) -> str:
    """The admin picked the person behind a CRM owner: a new agreement version maps the owner
    to their email, and the owner's leads are theirs at once (their clocks start)."""
    parts = deps.renderer.parts("home/parts.txt.j2")
    action = (body.get("actions") or [{}])[0]
    found = owner_of_block(str(action.get("block_id") or ""))
    if found is None:
        return parts.not_saved("that row names no CRM owner")
    crm, owner = found
    email = lead_actions.email_of(deps.engine, client, str(action.get("selected_user") or ""))
    if email is None:
        return parts.no_email(owner)
    applied, leads = map_owner(deps.engine, crm, owner, email, by=f"slack:{admin}",
                               now=datetime.now(UTC))  # fmt: skip
    return parts.mapped(owner, email, leads, applied)


@admin_change
def handle_setup_away(body: dict, client: WebClient, deps: Deps, admin: str) -> str:
    """Save in the out-of-office row: the picked rep is out of office from the first day to
    the last (their clocks stop on those days)."""
    parts = deps.renderer.parts("home/parts.txt.j2")
    picked = _picked(body, ids.SETUP_AWAY)
    rep = picked(ids.SETUP_AWAY_REP, "selected_user")
    first = _day(picked(ids.SETUP_AWAY_FROM, "selected_date"))
    last = _day(picked(ids.SETUP_AWAY_UNTIL, "selected_date")) or first
    email = lead_actions.email_of(deps.engine, client, rep) if rep else None
    if email is None or first is None or last is None or last < first or last < date.today():
        return parts.away_incomplete()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    try:
        applied = set_out_of_office(deps.engine, email, days, by=f"slack:{admin}",
                                    now=datetime.now(UTC))  # fmt: skip
    except NotARep:
        return parts.away_not_a_rep(email)
    return parts.away_saved(email, first, last, applied)


@admin_change
def handle_team_save(body: dict, client: WebClient, deps: Deps, admin: str) -> str:
    """Save in a team's row: its channel and stand-up time."""
    parts = deps.renderer.parts("home/parts.txt.j2")
    name = str((body.get("actions") or [{}])[0].get("value") or "")
    picked = _picked(body, f"{ids.SETUP_TEAM}{name}"[:255])
    channel = picked(ids.TEAM_CHANNEL, "selected_conversation")
    standup = picked(ids.TEAM_STANDUP, "selected_time")
    if not name or not channel or not standup:
        return parts.not_saved("pick a channel and a time")
    try:
        applied = set_team(deps.engine, name, channel=channel, standup=standup,
                           by=f"slack:{admin}", now=datetime.now(UTC))  # fmt: skip
    except (AgreementFileError, LookupError, NoAgreementApplied) as error:
        return parts.not_saved(str(error))
    return parts.team_saved(name, channel, standup, applied)


@admin_change
def handle_rep_save(body: dict, client: WebClient, deps: Deps, admin: str) -> str:
    """Save in the rep row: the picked person is a rep of that team (added, or moved)."""
    parts = deps.renderer.parts("home/parts.txt.j2")
    picked = _picked(body, ids.SETUP_REP)
    rep, boss = picked(ids.REP_USER, "selected_user"), picked(ids.REP_MANAGER, "selected_user")
    team = (picked(ids.REP_TEAM, "selected_option") or {}).get("value")
    email = lead_actions.email_of(deps.engine, client, rep) if rep else None
    manager = lead_actions.email_of(deps.engine, client, boss) if boss else None
    if email is None or not team or (boss and manager is None):
        return parts.rep_incomplete()
    try:
        applied = set_rep(deps.engine, email, team=team, manager=manager,
                          by=f"slack:{admin}", now=datetime.now(UTC))  # fmt: skip
    except AgreementFileError as error:
        return parts.not_saved(str(error))
    return parts.rep_saved(email, team, manager, applied)


def handle_setup_input(ack: Ack) -> None:
    """A pick in a set-up row: kept in the Home view's state until its Save."""
    ack()


def _picked(body: dict, block_id: str) -> Callable[[str, str], Any]:
    """`picked(action_id, key)`: what the element `action_id` of block `block_id` holds in the
    Home view's state (Slack sends it with every action), None when nothing was picked."""
    state = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    block = state.get(block_id) or {}
    return lambda action_id, key: (block.get(action_id) or {}).get(key)


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
