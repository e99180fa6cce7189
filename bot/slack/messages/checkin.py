"""The check-in DM before the stand-up: each breached lead with a pick of what happened, and
one line for what is blocking the rep; and the modal that asks what "other" is."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

from bot.domain.checkin import REASONS
from bot.slack import ids
from bot.slack.messages.blocks import Block, context, header, section
from bot.slack.messages.routing import lead_text
from bot.slack.render import fit_blocks
from storage.alerts import LeadRow
from storage.checkins import BLOCKER, Answer

SHOWN = 20  # leads a check-in lists (the rest are counted)


PICKED_NEXT = {"not_a_fit": " → recycle…", "other": "…"}  # picks that open a modal


def _option(lead_id: int, reason: str) -> dict[str, Any]:
    label = REASONS[reason] + PICKED_NEXT.get(reason, "")
    return {"text": {"type": "plain_text", "text": label}, "value": f"{lead_id}|{reason}"}


def checkin_payload(
    leads: list[LeadRow], *, standup: str, answers: dict[int, Answer]
) -> dict[str, Any]:
    """`standup`: the stand-up's time as the rep reads it ("09:00 EST")."""
    count = len(leads)
    title = f"Before the {standup} stand-up: {count} breached lead{'s' if count != 1 else ''}"
    blocks: list[Block] = [
        header(title[:150]),
        context(
            "Optional: say what happened with each, and anything blocking you. The stand-up "
            f"sees it; you can change it until {standup}."
        ),
    ]
    for lead in leads[:SHOWN]:
        text = f"*{lead_text(lead)}* · {lead.source or 'no source'}"
        line = section(text, block_id=f"c:{lead.id}")
        picker: dict[str, Any] = {
            "type": "static_select",
            "action_id": ids.CHECKIN_REASON,
            "placeholder": {"type": "plain_text", "text": "What happened?"},
            "options": [_option(lead.id, reason) for reason in REASONS],
        }
        given = answers.get(lead.id)
        if given is not None and given.reason in REASONS:
            picker["initial_option"] = _option(lead.id, given.reason)
        line["accessory"] = picker
        blocks.append(line)
    if count > SHOWN:
        blocks.append(context(f"…and {count - SHOWN} more: `/sla` lists them all."))
    blocker = answers.get(BLOCKER)
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.CHECKIN_BLOCKER,
        "max_length": 300,
        "dispatch_action_config": {"trigger_actions_on": ["on_enter_pressed"]},
    }
    if blocker is not None and blocker.note:
        element["initial_value"] = blocker.note
    blocks.append(
        {
            "type": "input",
            "block_id": "blocker",
            "dispatch_action": True,
            "optional": True,
            "label": {"type": "plain_text", "text": "Anything blocking you? (Enter sends it)"},
            "element": element,
        }
    )
    return {"text": title, "blocks": fit_blocks(blocks)}


def other_modal(lead_id: int) -> dict[str, Any]:
    view = View(
        type="modal",
        callback_id=ids.CHECKIN_OTHER,
        title="What happened?",
        submit="Save",
        close="Cancel",
        private_metadata=json.dumps({"lead": lead_id}),
        blocks=[
            InputBlock(
                block_id=ids.CHECKIN_OTHER,
                label="In a few words",
                element=PlainTextInputElement(
                    action_id=ids.CHECKIN_OTHER, max_length=200, min_length=2
                ),
            )
        ],
    )
    return view.to_dict()
