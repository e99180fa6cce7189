"""The App Home tab as Block Kit (slack_sdk's view and block models): the person's SLA queue
on top (the queue's own blocks), then what slabot does and the quota math in force. The
sentences are the macros of `home/parts.txt.j2`."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    DatePickerElement,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
    TimePickerElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.slack import ids

OWNERS_SHOWN = 20  # unmatched owners on an admin's Home, the most leads first
_OWNER_BLOCK = "owner:"  # block_id: owner:<crm>:<owner as the CRM wrote it>


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


def setup_blocks(
    parts: Any,
    checklist: list[str],
    unmatched: list[tuple[str, str, int]],
    note: str | None,
    teams: list[tuple[str, str, str]],
) -> list:
    """An admin's set-up: the checklist (`slabot doctor`'s lines), each CRM owner nobody
    matches beside a user picker, each team's channel and stand-up (`teams`: name, channel,
    stand-up), a rep's team and manager, a rep's out-of-office; and `note`, what the last
    change did."""
    blocks: list[Block] = [HeaderBlock(text=parts.setup_title())]
    if note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]))
    if checklist:
        blocks.append(SectionBlock(text="\n".join(checklist)[:3000]))
    if not unmatched:
        blocks.append(SectionBlock(text=parts.owners_all_known()))
    for crm, owner, leads in unmatched[:OWNERS_SHOWN]:
        blocks.append(
            SectionBlock(
                block_id=f"{_OWNER_BLOCK}{crm}:{owner}"[:255],
                text=parts.owner_line(crm, owner, leads),
                accessory=UserSelectElement(
                    action_id=ids.SETUP_OWNER, placeholder=parts.owner_placeholder()
                ),
            )
        )
    for name, channel, standup in teams:
        blocks.append(SectionBlock(text=parts.team_title(name)))
        blocks.append(
            ActionsBlock(
                block_id=f"{ids.SETUP_TEAM}{name}"[:255],
                elements=[
                    ConversationSelectElement(
                        action_id=ids.TEAM_CHANNEL,
                        initial_conversation=channel,
                        filter=ConversationFilter(include=["public", "private"]),
                    ),
                    TimePickerElement(action_id=ids.TEAM_STANDUP, initial_time=standup),
                    ButtonElement(action_id=ids.TEAM_SAVE, text=parts.save(), value=name[:2000]),
                ],
            )
        )
    if teams:
        options = [Option(text=name[:75], value=name[:150]) for name, _, _ in teams[:100]]
        blocks.append(SectionBlock(text=parts.rep_title()))
        blocks.append(
            ActionsBlock(
                block_id=ids.SETUP_REP,
                elements=[
                    UserSelectElement(action_id=ids.REP_USER, placeholder=parts.away_who()),
                    StaticSelectElement(
                        action_id=ids.REP_TEAM, options=options, placeholder=parts.rep_team()
                    ),
                    UserSelectElement(action_id=ids.REP_MANAGER, placeholder=parts.rep_manager()),
                    ButtonElement(action_id=ids.REP_SAVE, text=parts.save(), value="save"),
                ],
            )
        )
    blocks.append(SectionBlock(text=parts.away_title()))
    blocks.append(
        ActionsBlock(
            block_id=ids.SETUP_AWAY,
            elements=[
                UserSelectElement(action_id=ids.SETUP_AWAY_REP, placeholder=parts.away_who()),
                DatePickerElement(action_id=ids.SETUP_AWAY_FROM, placeholder=parts.away_from()),
                DatePickerElement(action_id=ids.SETUP_AWAY_UNTIL, placeholder=parts.away_until()),
                ButtonElement(action_id=ids.SETUP_AWAY_SAVE, text=parts.save(), value="save"),
            ],
        )
    )
    blocks.append(DividerBlock())
    return [block.to_dict() for block in blocks]


def owner_of_block(block_id: str) -> tuple[str, str] | None:
    """(crm, owner) from a set-up block's id, None for any other block."""
    if not block_id.startswith(_OWNER_BLOCK):
        return None
    crm, _, owner = block_id.removeprefix(_OWNER_BLOCK).partition(":")
    return (crm, owner) if crm and owner else None
