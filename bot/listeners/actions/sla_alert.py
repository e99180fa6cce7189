"""The buttons on an SLA alert: Contacted, Snooze 1h, Recycle… (which opens a modal)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.deps import Deps, deps_of
from bot.listeners.answering import ANSWER_WITHIN, patiently, pressed
from bot.listeners.leads import lead_context
from bot.services import lead_actions
from bot.slack.messages.recycle import recycle_modal


def _start(body: dict, respond: Respond, client: WebClient, deps: Deps):
    """(context, lead) if the clicking user may act on the lead, else None (the user has been
    told why). The press was acknowledged before."""
    ctx = lead_context(deps, client)
    lead = lead_of(ctx, body, respond)
    return None if lead is None else (ctx, lead)


def lead_of(
    ctx: lead_actions.Context,
    body: dict,
    respond: Respond,
    value: str | None = None,
    *,
    check: bool = True,
):
    """The lead the button is about (its value, or `value`), if the clicking user may act on
    it (`check`); else None, the user told why."""
    try:
        raw = value if value is not None else body["actions"][0]["value"]
        lead_id = int(str(raw)[:20])
    except (KeyError, IndexError, ValueError):
        lead_id = 0
    # a forged value (not an id, or past any id a database holds) is a lead that is gone
    lead = lead_actions.find_lead(ctx, lead_id) if 0 < lead_id < 2**31 else None
    user = body["user"]["id"]
    if lead is None:
        respond(
            response_type="ephemeral",
            replace_original=False,
            text=ctx.renderer.slack_text("alerts/gone.txt.j2"),
        )
        return None
    if check and not lead_actions.may_act(ctx, lead, user):
        respond(
            response_type="ephemeral",
            replace_original=False,
            text=ctx.renderer.slack_text(
                "alerts/not_yours.txt.j2", lead=lead_actions.lead_label(lead)
            ),
        )
        return None
    return lead


def pressed_on(body: dict, lead_id: int) -> dict:
    """Where a button that opens a modal was pressed, for the modal's submission to redraw:
    the lead, and the message (its channel and ts; an ephemeral one cannot be redrawn)."""
    container = body.get("container") or {}
    return {
        "lead": lead_id,
        "channel": container.get("channel_id"),
        "ts": container.get("message_ts"),
        "ephemeral": bool(container.get("is_ephemeral")),
    }


def after_action(ctx: lead_actions.Context, body: dict, respond: Respond, note: str) -> None:
    """Redraw the message the button was on: an alert through the outbox, an `/sla` reply
    through its response URL."""
    now = datetime.now(UTC)
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts")
    if (
        channel
        and ts
        and not container.get("is_ephemeral")
        and lead_actions.redraw(ctx, channel=channel, ts=ts, note=note, now=now)
    ):
        return
    email = lead_actions.email_of(ctx.engine, ctx.client, body["user"]["id"]) or ""
    team = (body.get("actions") or [{}])[0].get("block_id", "").startswith("team")
    message = lead_actions.queue_for(ctx, email=email, team=team, now=now, note=note)
    respond(replace_original=True, **message.payload)


@pressed
def handle_contacted(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    started = _start(body, respond, client, deps)
    if started is None:
        return
    ctx, lead = started
    user = body["user"]["id"]
    message = (body.get("container") or {}).get("message_ts")
    applied = lead_actions.mark_contacted(
        ctx,
        lead,
        by_email=lead_actions.email_of(ctx.engine, client, user),
        now=datetime.now(UTC),
        press=lead_actions.press_key("contacted", lead.id, user, message),
    )
    if not applied:
        respond(
            response_type="ephemeral",
            replace_original=False,
            text=ctx.renderer.slack_text(
                "alerts/already.txt.j2", lead=lead_actions.lead_label(lead)
            ),
        )
        return
    note = ctx.renderer.slack_text(
        "alerts/note_contacted.txt.j2", user=user, lead=lead_actions.lead_label(lead)
    )
    after_action(ctx, body, respond, note)


@pressed
def handle_snooze(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    started = _start(body, respond, client, deps)
    if started is None:
        return
    ctx, lead = started
    until = lead_actions.snooze(ctx, lead, now=datetime.now(UTC))
    local = until.astimezone(ctx.agreement.rep_calendar(lead.owner_email).tz)
    note = ctx.renderer.slack_text(
        "alerts/note_snoozed.txt.j2",
        user=body["user"]["id"],
        lead=lead_actions.lead_label(lead),
        until=local.strftime("%H:%M"),
    )
    after_action(ctx, body, respond, note)


def handle_recycle(
    ack: Ack, body: dict, respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Ask for the reason in a modal; the recycle happens when it is submitted. The modal
    must open within the press's 3-second trigger: no waiting for a busy database."""
    ack()
    deps = deps_of(context)
    patiently(lambda: open_recycle_modal(body, respond, client, deps), patience=ANSWER_WITHIN)


def open_recycle_modal(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    """The recycle modal for the lead the press names (its action's `value`)."""
    started = _start(body, respond, client, deps)
    if started is None:
        return
    ctx, lead = started
    private = {**pressed_on(body, lead.id), "response_url": body.get("response_url")}
    view = recycle_modal(
        ctx.renderer.parts("alerts/recycle_parts.txt.j2"),
        lead=lead_actions.lead_label(lead),
        reasons=lead_actions.RECYCLE_REASONS,
        private=json.dumps(private),
    )
    client.views_open(trigger_id=body["trigger_id"], view=view)


@pressed
def handle_open_home(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    """ "Show all in Home" under a DM too long for one message: the whole queue, paged, in the
    app's Home tab (the tab beside this conversation's Messages)."""
    from bot.listeners.events.app_home import publish_home

    view = str((body.get("actions") or [{}])[0].get("value") or "")[:10]
    publish_home(client, deps, body["user"]["id"], view=view if view in ("mine", "team") else "")
    respond(
        response_type="ephemeral",
        replace_original=False,
        text=deps.renderer.slack_text("alerts/in_home.txt.j2"),
    )


@pressed
def handle_page(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    """‹ Previous / Next › under `/sla` (the reply is replaced) or in the Home tab."""
    from bot.listeners.events.app_home import publish_home

    value = str((body.get("actions") or [{}])[0].get("value") or "")[:40]
    surface, view, page = ([*value.split("|"), "", "", ""])[:3]
    number = int(page) if page.isdigit() else 0
    user = body["user"]["id"]
    if surface == "home":
        publish_home(client, deps, user, view=view, page=number)
        return
    view, _, order = view.partition("+")  # "team+value": ordered by expected pipeline
    ctx = lead_context(deps, client)
    email = lead_actions.email_of(ctx.engine, client, user) or ""
    message = lead_actions.queue_for(
        ctx,
        email=email,
        team=view == "team",
        now=datetime.now(UTC),
        page=number,
        by_value=order == "value",
    )
    respond(replace_original=True, **message.payload)
