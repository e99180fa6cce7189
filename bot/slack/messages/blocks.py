"""Small Block Kit dict builders for the hot path (a scan lays out thousands of lines);
tests check every message they make against slack_sdk's models."""

from __future__ import annotations

from typing import Any

Block = dict[str, Any]


def header(text: str, *, emoji: bool = True) -> Block:
    title: Block = {"type": "plain_text", "text": text}
    if emoji:
        title["emoji"] = True
    return {"type": "header", "text": title}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def section(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {"type": "section"}
    if block_id is not None:
        block["block_id"] = block_id
    block["text"] = {"type": "mrkdwn", "text": text}
    return block


def button(action_id: str, text: str, value: str, *, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
    }
    if style is not None:
        element["style"] = style
    element["value"] = value
    return element


def actions(elements: list[Block], *, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions"}
    if block_id is not None:
        block["block_id"] = block_id
    block["elements"] = elements
    return block
