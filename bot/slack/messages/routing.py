"""Routing in Slack: the DM a lead's new owner gets (reassigned, handed on, covered,
returned) with the lead's buttons, the Cover until… modal and a lead's history. The sentences
are the macros of `routing/parts.txt.j2`; the modals are slack_sdk's view models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from slack_sdk.models.blocks import (
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack import ids
from bot.slack.messages.blocks import Block, actions, button, context, header, section
from bot.slack.render import Renderer, escape_mrkdwn, fit
from storage.alerts import LeadRow

PARTS = "routing/parts.txt.j2"
ROTATION = "rotation"  # the cover modal's choice of no one person: the rotation
SECTION_TEXT = 3000  # Slack's longest section text


def lead_text(lead: LeadRow) -> str:
    """ "Acme — Jane Doe", escaped for mrkdwn."""
    parts = [part for part in (lead.company, lead.name) if part]
    return escape_mrkdwn(" — ".join(parts) or f"lead {lead.id}")


def lead_buttons(lead_id: int, *, owner: bool) -> Block:
    """What a rep can do with a lead given to them."""
    value = str(lead_id)
    elements = [
        button(ids.CONTACTED, "Contacted", value, style="primary"),
        button(ids.SNOOZE, "Snooze 1h", value),
        button(ids.RECYCLE, "Recycle…", value),
    ]
    if owner:
        elements.append(button(ids.HAND_BACK, "Hand back", value))
    elements.append(button(ids.HISTORY, "History", value))
    return actions(elements, block_id=f"act:{value}")


def render_handoff(
    renderer: Renderer,
    *,
    lead: LeadRow,
    kind: str,
    by: str,
    was: str | None,
    covered_for: str | None,
    due: datetime,
) -> dict[str, Any]:
    parts = renderer.parts(PARTS)
    title = parts.heading(kind)
    blocks = [
        header(title),
        section(f"*{lead_text(lead)}*", block_id=f"lead:{lead.id}"),
        context(parts.why(kind, by, was, covered_for)),
        context(parts.due(due)),
        lead_buttons(lead.id, owner=True),
    ]
    return {"text": f"{title}: {lead_text(lead)}", "blocks": blocks}


def history_modal(renderer: Renderer, lead: LeadRow, lines: list[tuple[datetime, str]]) -> dict:
    """The lead's history, oldest first (`lines`: when, in the reader's time, and what)."""
    parts = renderer.parts(PARTS)
    text = "\n".join(parts.history_line(at, what) for at, what in lines) or parts.nothing_yet()
    return View(
        type="modal",
        title=PlainTextObject(text=parts.history_title()),
        close=PlainTextObject(text="Close"),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=f"*{lead_text(lead)}*")),
            SectionBlock(text=MarkdownTextObject(text=fit(text, SECTION_TEXT))),
        ],
    ).to_dict()


def cover_modal(
    renderer: Renderer, lead: LeadRow, *, mates: list[str], today: date, private: str
) -> dict:
    """Cover until…: who holds the owner's leads (a teammate, or the rotation) and until when.
    `private`: what the submission needs, as JSON."""
    parts = renderer.parts(PARTS)
    options = [Option(text=PlainTextObject(text=parts.cover_rotation()), value=ROTATION)]
    options += [Option(text=PlainTextObject(text=email[:75]), value=email) for email in mates[:99]]
    return View(
        type="modal",
        callback_id=ids.COVER,
        private_metadata=private,
        title=PlainTextObject(text=parts.cover_title()),
        submit=PlainTextObject(text=parts.cover_submit()),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(text=parts.cover_intro(lead.owner_email, lead_text(lead)))
            ),
            InputBlock(
                block_id=ids.COVER_REP,
                label=PlainTextObject(text=parts.cover_rep_label()),
                element=StaticSelectElement(
                    action_id=ids.COVER_REP, options=options, initial_option=options[0]
                ),
            ),
            InputBlock(
                block_id=ids.COVER_UNTIL,
                label=PlainTextObject(text=parts.cover_until_label()),
                element=DatePickerElement(
                    action_id=ids.COVER_UNTIL, initial_date=today.isoformat()
                ),
            ),
        ],
    ).to_dict()
