"""`/quota`'s answers as Block Kit: the plan (with its share button), the help, and what was
wrong with an example. The sentences are the macros of `quota/parts.txt.j2`."""

from __future__ import annotations

from typing import Any

from bot.slack import ids
from bot.slack.messages.blocks import Block, actions, button, context, header, section
from bot.slack.render import fit_blocks

FIELD_BREAK = "\n---\n"  # between the plan's figures in `figures`


def plan_blocks(
    parts: Any, answer: Any, *, shared_by: str | None, share_value: str | None
) -> list[Block]:
    """`answer`: a `bot.services.quota.QuotaAnswer`."""
    figures = [
        {"type": "mrkdwn", "text": text} for text in parts.figures(answer).split(FIELD_BREAK)
    ]
    about = [{"type": "mrkdwn", "text": parts.rates(answer)}]
    if answer.from_agreement:
        about.append({"type": "mrkdwn", "text": parts.from_agreement(answer)})
    blocks = [
        header(parts.title(answer), emoji=False),
        {"type": "section", "fields": figures},
    ]
    if answer.window is not None:
        blocks.append(section(parts.by_when(answer)))
    blocks.append({"type": "context", "elements": about})
    if shared_by:
        blocks.append(context(parts.shared_by(shared_by)))
    if share_value:
        blocks.append(
            actions([button(ids.QUOTA_SHARE, parts.share(), share_value, style="primary")])
        )
    return fit_blocks(blocks)


def help_blocks(parts: Any, grammar: str) -> list[Block]:
    return fit_blocks([section(parts.about()), section(f"```{grammar}```")])


def error_blocks(parts: Any, message: str, *, typed: str, grammar: str) -> list[Block]:
    return fit_blocks(
        [section(parts.problem(message)), context(parts.typed(typed)), section(f"```{grammar}```")]
    )
