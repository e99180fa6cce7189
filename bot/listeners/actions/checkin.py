"""The check-in DM's picks: what happened with a breached lead ("other…" asks in a modal, "not
a fit" opens the recycle modal), and the "anything blocking you?" line."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.deps import Deps, deps_of
from bot.listeners.actions.sla_alert import open_recycle_modal
from bot.listeners.answering import patiently, pressed
from bot.services import checkins, lead_actions
from bot.slack import ids
from bot.slack.messages.checkin import other_modal
from storage.checkins import BLOCKER

PARTS = "digest/checkin.txt.j2"


def _record(deps: Deps, client: WebClient, body: dict, lead_id: int, reason: str, note: str) -> str:
    """The answer kept, or why not (in words for the rep)."""
    email = lead_actions.email_of(deps.engine, client, body["user"]["id"]) or ""
    kept = checkins.record(
        deps.engine, email=email, lead_id=lead_id, reason=reason, note=note, now=datetime.now(UTC)
    )
    parts = deps.renderer.parts(PARTS)
    return parts.kept(kept) if kept is not None else parts.too_late()


@pressed
def handle_checkin_reason(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    action = (body.get("actions") or [{}])[0]
    lead, _, reason = str((action.get("selected_option") or {}).get("value") or "").partition("|")
    lead_id = int(lead) if lead.isdigit() and len(lead) < 10 else 0
    if reason == "other":
        client.views_open(trigger_id=body["trigger_id"], view=other_modal(lead_id))
        return
    text = _record(deps, client, body, lead_id, reason, "")
    if reason == "not_a_fit":
        open_recycle_modal({**body, "actions": [{**action, "value": str(lead_id)}]},
                           respond, client, deps)  # fmt: skip
        return
    respond(response_type="ephemeral", replace_original=False, text=text)


@pressed
def handle_checkin_blocker(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    note = str((body.get("actions") or [{}])[0].get("value") or "")
    text = _record(deps, client, body, BLOCKER, "blocker", note)
    respond(response_type="ephemeral", replace_original=False, text=text)


def handle_checkin_other(
    ack: Ack, body: dict, view: dict, client: WebClient, context: BoltContext
) -> None:
    deps = deps_of(context)
    typed = view["state"]["values"].get(ids.CHECKIN_OTHER, {}).get(ids.CHECKIN_OTHER) or {}
    note = str(typed.get("value") or "").strip()
    lead = str(json.loads(view.get("private_metadata") or "{}").get("lead", ""))
    if not note or not lead.isdigit():
        ack(response_action="errors", errors={ids.CHECKIN_OTHER: "Say what happened."})
        return
    text = patiently(lambda: _record(deps, client, body, int(lead), "other", note))
    if text == deps.renderer.parts(PARTS).too_late():
        ack(response_action="errors", errors={ids.CHECKIN_OTHER: text[:150]})
        return
    ack()
