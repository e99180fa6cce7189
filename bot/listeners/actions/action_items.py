"""The digest's action items: Add action item (a modal) and an item's Done (its owner's)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.deps import Deps, deps_of
from bot.domain.agreement import Agreement
from bot.listeners.answering import deliver_soon, patiently, pressed
from bot.services import action_items
from bot.services.digest import DigestError, resolve_team
from bot.slack import ids
from bot.slack.messages.digest import action_modal
from storage.agreements import agreement_in_force

PARTS = "digest/action_items.txt.j2"


def _today(deps: Deps, team: str) -> date:
    now = datetime.now(UTC)
    agreement = agreement_in_force(deps.engine, on=now.date())
    if agreement is None:
        return now.date()
    return agreement.team_calendar(team).today(now)


@pressed
def handle_action_add(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    """Add action item: the modal, for anyone in the team's channel."""
    team, _, day = str((body.get("actions") or [{}])[0].get("value") or "").partition("|")
    view = action_modal(team[:80], day[:10], _today(deps, team).isoformat())
    client.views_open(trigger_id=body["trigger_id"], view=view)


def handle_action_submit(
    ack: Ack, body: dict, view: dict, client: WebClient, context: BoltContext
) -> None:
    """The item stored (its news in the digest's thread), or the field that is wrong."""
    deps = deps_of(context)
    values = view["state"]["values"]
    text = str((values.get(ids.ACTION_TEXT, {}).get(ids.ACTION_TEXT) or {}).get("value") or "")
    owner = (values.get(ids.ACTION_OWNER, {}).get(ids.ACTION_OWNER) or {}).get("selected_user")
    picked = (values.get(ids.ACTION_DUE, {}).get(ids.ACTION_DUE) or {}).get("selected_date")
    where = json.loads(view.get("private_metadata") or "{}")
    try:
        due, day = date.fromisoformat(str(picked)), date.fromisoformat(str(where.get("day")))
        team = resolve_team(_agreement(deps), str(where.get("team"))).name
    except (ValueError, DigestError):
        ack(response_action="errors", errors={ids.ACTION_DUE: "Pick the day it is due."})
        return
    if not owner:
        ack(response_action="errors", errors={ids.ACTION_OWNER: "Pick whose it is."})
        return
    now = datetime.now(UTC)
    try:
        _, queued = patiently(
            lambda: action_items.add_item(
                deps.engine, deps.renderer, team=team, day=day, text=text, owner=str(owner),
                due=due, by=body["user"]["id"], today=_today(deps, team), now=now,
            )
        )  # fmt: skip
    except action_items.ItemRefused as refusal:
        block = ids.ACTION_DUE if "due" in str(refusal) else ids.ACTION_TEXT
        ack(response_action="errors", errors={block: str(refusal)})
        return
    ack()
    deliver_soon(deps, client, queued)


def _agreement(deps: Deps) -> Agreement:
    found = agreement_in_force(deps.engine, on=datetime.now(UTC).date())
    if found is None:
        raise DigestError("no agreement is in force")
    return found


@pressed
def handle_action_done(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    """Done: only the item's owner marks it; the next digest leaves it out."""
    value = str((body.get("actions") or [{}])[0].get("value") or "")
    item_id = int(value) if value.isdigit() and len(value) < 10 else 0
    done = action_items.mark_done(
        deps.engine, item_id, user=body["user"]["id"], now=datetime.now(UTC)
    )
    text = getattr(deps.renderer.parts(PARTS), done.outcome)(done.item)
    respond(response_type="ephemeral", replace_original=False, text=text)
