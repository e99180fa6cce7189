"""Routing by hand, from a lead's message: a manager's **Reassign to…** and **Cover until…**,
a rep's **Hand back**, and anyone's **History**. Only the lead's owner, the owner's manager or
an admin may move a lead; each move answers in the message it came from."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.deps import Deps, deps_of
from bot.listeners.actions.sla_alert import after_action, lead_of, pressed_on
from bot.listeners.answering import ANSWER_WITHIN, answer_in_time, patiently, pressed
from bot.listeners.leads import lead_context
from bot.services import lead_actions, routing
from bot.slack import ids
from bot.slack.messages.routing import PARTS, ROTATION, cover_modal, history_modal


def _say(respond: Respond, text: str) -> None:
    respond(response_type="ephemeral", replace_original=False, text=text)


@pressed
def handle_reassign(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    """A rep picked in Reassign to…: the lead is theirs, as a new hand-off."""
    chosen = (body.get("actions") or [{}])[0].get("selected_option") or {}
    lead_part, _, to = str(chosen.get("value") or "").partition("|")
    ctx = lead_context(deps, client)
    lead = lead_of(ctx, body, respond, lead_part)
    if lead is None:
        return
    parts = ctx.renderer.parts(PARTS)
    if to not in ctx.agreement.teammates(lead.owner_email):
        _say(respond, ctx.renderer.slack_text("alerts/gone.txt.j2"))
        return
    user = body["user"]["id"]
    by = lead_actions.email_of(ctx.engine, client, user) or user
    now = datetime.now(UTC)
    lead_actions.route_lead(ctx, lambda c, r: routing.reassign(c, r, lead.id, to, by=by), now=now)
    after_action(ctx, body, respond, parts.note_reassigned(user, lead_actions.lead_label(lead), to))


@pressed
def handle_hand_back(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    """The owner cannot work the lead: the rotation gives it to the next available rep."""
    ctx = lead_context(deps, client)
    lead = lead_of(ctx, body, respond)
    if lead is None:
        return
    parts = ctx.renderer.parts(PARTS)
    user = body["user"]["id"]
    by = lead_actions.email_of(ctx.engine, client, user) or user
    moved = lead_actions.route_lead(
        ctx, lambda c, r: routing.hand_back(c, r, lead.id, by=by), now=datetime.now(UTC)
    )
    label = lead_actions.lead_label(lead)
    if moved is None:
        _say(respond, parts.nobody(label))
        return
    after_action(ctx, body, respond, parts.note_handed_back(user, label, moved.to_owner))


def handle_history(
    ack: Ack, body: dict, respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """The lead's history in a modal, in the reader's time (opened within the press's trigger)."""
    ack()
    deps = deps_of(context)

    def show() -> None:
        ctx = lead_context(deps, client)
        lead = lead_of(ctx, body, respond, check=False)
        if lead is None:
            return
        email = lead_actions.email_of(ctx.engine, client, body["user"]["id"])
        tz = ctx.agreement.person_calendar(email or lead.owner_email).tz
        lines = lead_actions.history_lines(ctx, lead, tz)
        client.views_open(
            trigger_id=body["trigger_id"], view=history_modal(ctx.renderer, lead, lines)
        )

    patiently(show, patience=ANSWER_WITHIN)


def handle_cover(
    ack: Ack, body: dict, respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Cover until…: ask who covers and until when; the cover starts when it is submitted."""
    ack()
    deps = deps_of(context)

    def ask() -> None:
        ctx = lead_context(deps, client)
        lead = lead_of(ctx, body, respond)
        if lead is None:
            return
        private = pressed_on(body, lead.id)
        today = ctx.agreement.rep_calendar(lead.owner_email).today(datetime.now(UTC))
        view = cover_modal(
            ctx.renderer,
            lead,
            mates=ctx.agreement.teammates(lead.owner_email),
            today=today,
            private=json.dumps(private),
        )
        client.views_open(trigger_id=body["trigger_id"], view=view)

    patiently(ask, patience=ANSWER_WITHIN)


def handle_cover_submit(
    ack: Ack, body: dict, view: dict, client: WebClient, context: BoltContext
) -> None:
    deps = deps_of(context)
    values = view["state"]["values"]
    chosen = (values.get(ids.COVER_REP, {}).get(ids.COVER_REP) or {}).get("selected_option")
    cover_email = str((chosen or {}).get("value") or ROTATION)
    typed = (values.get(ids.COVER_UNTIL, {}).get(ids.COVER_UNTIL) or {}).get("selected_date")
    try:
        until = date.fromisoformat(str(typed))
        private = json.loads(view.get("private_metadata") or "{}")
        lead_id = int(str(private.get("lead", 0))[:20])
    except (TypeError, ValueError, AttributeError):
        refusal = deps.renderer.parts(PARTS).until_missing()
        ack(response_action="errors", errors={ids.COVER_UNTIL: refusal})
        return
    user = body["user"]["id"]
    now = datetime.now(UTC)

    def record():
        """(context, lead, note), or a refusal to show in the modal."""
        ctx = lead_context(deps, client)
        lead = lead_actions.find_lead(ctx, lead_id) if 0 < lead_id < 2**31 else None
        if lead is None or not lead_actions.may_act(ctx, lead, user):
            return ctx.renderer.slack_text("alerts/not_yours.txt.j2", lead="this lead")
        if until < ctx.agreement.rep_calendar(lead.owner_email).today(now):
            return ctx.renderer.parts(PARTS).until_past()
        mates = ctx.agreement.teammates(lead.owner_email)
        who = None if cover_email == ROTATION else cover_email
        if who is not None and who not in mates:
            return ctx.renderer.parts(PARTS).not_a_teammate()
        by = lead_actions.email_of(ctx.engine, client, user) or user
        moved = lead_actions.route_lead(
            ctx,
            lambda c, r: routing.cover(c, r, lead.id, cover_email=who, until=until, by=by),
            now=now,
        )
        if moved is None:
            return ctx.renderer.parts(PARTS).nobody(lead_actions.lead_label(lead))
        note = ctx.renderer.parts(PARTS).note_covered(
            user, lead_actions.lead_label(lead), moved.to_owner, until.strftime("%a %d %b")
        )
        return ctx, note

    def later(done) -> None:
        if done.exception() is None and not isinstance(done.result(), str):
            ctx, note = done.result()
            if private.get("channel") and private.get("ts") and not private.get("ephemeral"):
                patiently(
                    lambda: lead_actions.redraw(
                        ctx, channel=private["channel"], ts=private["ts"], note=note, now=now
                    )
                )

    done = answer_in_time(record, late=ack, then=later)
    if done is None:
        return
    if isinstance(done, str):
        ack(response_action="errors", errors={ids.COVER_REP: done})
        return
    ack()
