"""The App Home tab as Block Kit (slack_sdk's view and block models): the person's SLA queue
on top (the queue's own blocks), then what slabot does and the quota math in force. The
sentences are the macros of `home/parts.txt.j2`."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, DividerBlock, HeaderBlock, SectionBlock
from slack_sdk.models.views import View


def home_view(parts: Any, queue: list[dict[str, Any]], *, answer: Any, grammar: str) -> dict:
    """`queue`: the blocks of the person's queue ([] when they hold and manage no leads);
    `answer`: a `bot.services.quota.QuotaAnswer`, None without an agreement's quota."""
    about: list[Block] = [
        HeaderBlock(text=parts.title()),
        SectionBlock(text=parts.about()),
        DividerBlock(),
        SectionBlock(text=parts.quota_math(grammar)),
    ]
    if answer is not None:
        about.append(SectionBlock(text=parts.plan(answer)))
    return View(type="home", blocks=[*queue, *(block.to_dict() for block in about)]).to_dict()
