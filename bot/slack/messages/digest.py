"""The stand-up digest as a Slack message (its layout is `digest/digest.json.j2`, which a
team may override; a broken override sends the figures as text) and its burn-up chart."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from slack_sdk.models.blocks import (
    DatePickerElement,
    InputBlock,
    PlainTextInputElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.reports.digest import Digest
from bot.slack import ids
from bot.slack.chart import burnup_png
from bot.slack.render import InvalidBlocks, Renderer, escape_mrkdwn, fit

log = logging.getLogger(__name__)


def render_digest(renderer: Renderer, digest: Digest, *, heading: str = "Stand-up") -> dict:
    """The Block Kit message and its notification text. Should the blocks fail Slack's checks
    (a team's template override), the text alone goes out and the reason is logged: the
    stand-up still has its figures."""
    text = renderer.slack_text("digest/digest.txt.j2", d=digest, heading=heading)
    try:
        blocks = renderer.blocks("digest/digest.json.j2", d=digest, heading=heading)
    except InvalidBlocks as error:
        log.error("digest for %s on %s sent as text only: %s", digest.team.name, digest.day, error)
        return {"text": text}
    return {"text": text, "blocks": blocks}


def chart_payload(digest: Digest) -> dict | None:
    if not digest.burnup.actual:
        return None  # the period's first day: nothing to draw yet
    png = burnup_png(digest.burnup)
    return {
        "filename": f"burnup-{digest.team.name}-{digest.day.isoformat()}.png",
        "title": f"MQL burn-up, {digest.burnup.label}",
        "alt_txt": (
            f"Cumulative MQLs for {digest.burnup.label}: {digest.burnup.actual[-1]:,} by "
            f"{digest.day:%d %B} against a target of {digest.burnup.target:,.0f}"
        ),
        "png_base64": base64.b64encode(png).decode("ascii"),
    }


def action_modal(team: str, day: str, today: str) -> dict[str, Any]:
    """Add an action item: what, whose (a Slack user), by when."""
    view = View(
        type="modal",
        callback_id=ids.ACTION_ADD,
        title="Add an action item",
        submit="Add",
        close="Cancel",
        private_metadata=json.dumps({"team": team, "day": day}),
        blocks=[
            InputBlock(
                block_id=ids.ACTION_TEXT,
                label="What is to be done?",
                element=PlainTextInputElement(action_id=ids.ACTION_TEXT, max_length=300),
            ),
            InputBlock(
                block_id=ids.ACTION_OWNER,
                label="Whose is it?",
                element=UserSelectElement(action_id=ids.ACTION_OWNER),
            ),
            InputBlock(
                block_id=ids.ACTION_DUE,
                label="Due",
                element=DatePickerElement(action_id=ids.ACTION_DUE, initial_date=today),
            ),
        ],
    )
    return view.to_dict()


def checkin_thread(digest: Digest) -> dict | None:
    """The check-in's answers, kept in the digest's thread (None: nobody answered)."""
    found = digest.checkin
    if found is None or not (found.answers or found.blockers):
        return None
    lines = [
        f"• {escape_mrkdwn(rep)} — {escape_mrkdwn(lead)}: {reason}"
        + (f" ({escape_mrkdwn(note)})" if note else "")
        for rep, lead, reason, note in found.answers
    ]
    lines += [f"🚧 {escape_mrkdwn(rep)}: {escape_mrkdwn(note)}" for rep, note in found.blockers]
    return {"text": fit("*Check-in answers*\n" + "\n".join(lines), 3000)}
