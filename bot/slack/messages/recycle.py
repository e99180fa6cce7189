"""The "Recycle lead" modal, built with slack_sdk's view models (they check Slack's limits as
they serialise). The sentences are the macros of `alerts/recycle_parts.txt.j2`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack import ids

NOTE_LENGTH = 300


def recycle_modal(parts: Any, *, lead: str, reasons: Sequence[str], private: str) -> dict:
    """`lead`: its label (mrkdwn-escaped); `private`: what the submission needs, as JSON."""
    return View(
        type="modal",
        callback_id=ids.RECYCLE,
        private_metadata=private,
        title=PlainTextObject(text=parts.title()),
        submit=PlainTextObject(text=parts.submit()),
        close=PlainTextObject(text=parts.close()),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=parts.intro(lead))),
            InputBlock(
                block_id=ids.RECYCLE_REASON,
                label=PlainTextObject(text=parts.reason_label()),
                element=StaticSelectElement(
                    action_id=ids.RECYCLE_REASON,
                    placeholder=PlainTextObject(text=parts.reason_placeholder()),
                    options=[
                        Option(text=PlainTextObject(text=reason), value=reason)
                        for reason in reasons
                    ],
                ),
            ),
            InputBlock(
                block_id=ids.RECYCLE_NOTE,
                optional=True,
                label=PlainTextObject(text=parts.note_label()),
                element=PlainTextInputElement(
                    action_id=ids.RECYCLE_NOTE,
                    max_length=NOTE_LENGTH,
                    placeholder=PlainTextObject(text=parts.note_placeholder()),
                ),
            ),
        ],
    ).to_dict()
