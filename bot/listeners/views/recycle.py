"""The "Recycle lead" modal: record the reason, then redraw the alert it came from."""

from __future__ import annotations

import json
from concurrent.futures import Future
from datetime import UTC, datetime

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot.deps import deps_of
from bot.listeners.answering import answer_in_time, patiently
from bot.listeners.leads import lead_context
from bot.services import lead_actions
from bot.slack import ids
from bot.slack.messages.recycle import NOTE_LENGTH


def handle_recycle_submit(
    ack: Ack, body: dict, view: dict, client: WebClient, context: BoltContext
) -> None:
    deps = deps_of(context)
    values = view["state"]["values"]
    chosen = values.get(ids.RECYCLE_REASON, {}).get(ids.RECYCLE_REASON) or {}
    reason = (chosen.get("selected_option") or {}).get("value")
    # the modal allows 300 characters; a forged submission gets no more stored
    typed = values.get(ids.RECYCLE_NOTE, {}).get(ids.RECYCLE_NOTE) or {}
    note = (typed.get("value") or "").strip()[:NOTE_LENGTH]
    if reason not in lead_actions.RECYCLE_REASONS:
        ack(response_action="errors", errors={ids.RECYCLE_REASON: "Choose one of the reasons."})
        return
    if reason == "Other" and not note:
        ack(
            response_action="errors",
            errors={ids.RECYCLE_NOTE: "Say in a few words why it is not a fit."},
        )
        return
    try:
        private = json.loads(view.get("private_metadata") or "{}")
        lead_id = int(str(private.get("lead", 0))[:20])
    except (ValueError, AttributeError):
        private, lead_id = {}, 0
    user = body["user"]["id"]
    full_reason = f"{reason}: {note}" if note else reason
    now = datetime.now(UTC)

    def record():
        """(context, lead, recorded), or a refusal to show in the modal."""
        ctx = lead_context(deps, client)
        lead = lead_actions.find_lead(ctx, lead_id) if 0 < lead_id < 2**31 else None
        if lead is None or not lead_actions.may_act(ctx, lead, user):
            return deps.renderer.parts("alerts/recycle_parts.txt.j2").not_yours()
        press = lead_actions.press_key("recycle", lead.id, user, view.get("id"))
        by = lead_actions.email_of(ctx.engine, client, user)
        recorded = lead_actions.recycle(
            ctx, lead, reason=full_reason, now=now, press=press, by_email=by
        )
        return ctx, lead, recorded

    # written before the modal closes, so a refusal or a database that is down shows in it;
    # a database that is only busy closes the modal and the recycle follows when it can
    def later(done: Future) -> None:
        if done.exception() is None and not isinstance(done.result(), str):
            patiently(lambda: redraw(*done.result()))

    def redraw(ctx, lead, recorded) -> None:
        if not recorded:
            return  # the same modal submitted again: recorded once
        text = deps.renderer.slack_text(
            "alerts/note_recycled.txt.j2",
            user=user,
            lead=lead_actions.lead_label(lead),
            reason=full_reason,
        )
        kept = private.get("channel") and private.get("ts") and not private.get("ephemeral")
        if kept and lead_actions.redraw(
            ctx, channel=private["channel"], ts=private["ts"], note=text, now=now
        ):
            return
        if private.get("response_url"):  # an `/sla` reply: redraw it where it is
            email = lead_actions.email_of(ctx.engine, client, user) or ""
            message = lead_actions.queue_for(ctx, email=email, team=False, now=now, note=text)
            WebhookClient(private["response_url"]).send(replace_original=True, **message.payload)

    done = answer_in_time(record, late=ack, then=later)
    if done is None:
        return
    if isinstance(done, str):
        ack(response_action="errors", errors={ids.RECYCLE_REASON: done})
        return
    ack()
    redraw(*done)
