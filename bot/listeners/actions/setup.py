"""An admin's set-up in the App Home tab: the Slack user an unmatched CRM owner is."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from slack_bolt import Respond
from slack_sdk import WebClient

from bot.deps import Deps
from bot.listeners.answering import pressed
from bot.services import lead_actions
from bot.services.agreement_edits import map_owner
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
