"""`/quota`: the reverse-funnel math, answered ephemerally with a button to share it."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.deps import Deps, deps_of
from bot.domain.quota_args import QuotaInputError, parse_quota_args
from bot.listeners.answering import answer_command
from bot.services.quota import answer_quota
from bot.slack.messages.quota import error_blocks, help_blocks, plan_blocks


def quota_message(deps: Deps, text: str, *, shared_by: str | None = None) -> dict[str, Any]:
    """The message for `/quota {text}`: the plan, the help, or what was wrong and an example."""
    renderer = deps.renderer
    parts = renderer.parts("quota/parts.txt.j2")
    try:
        request = parse_quota_args(text)
        if request.help:
            grammar = renderer.slack_text("quota/grammar.txt.j2")
            return {"text": grammar, "blocks": help_blocks(parts, grammar)}
        answer = answer_quota(deps.engine, request)
    except QuotaInputError as error:
        message = str(error)
        grammar = renderer.slack_text("quota/grammar.txt.j2")
        return {
            "text": renderer.slack_text("quota/error.txt.j2", message=message),
            "blocks": error_blocks(parts, message, typed=text, grammar=grammar),
        }
    share_value = None if shared_by else text[:2000]
    return {
        "text": renderer.slack_text("quota/reply.txt.j2", answer=answer),
        "blocks": plan_blocks(parts, answer, shared_by=shared_by, share_value=share_value),
    }


def handle_quota(ack: Ack, command: dict, respond: Respond, context: BoltContext) -> None:
    deps = deps_of(context)
    text = command.get("text") or ""
    answer_command(ack, respond, deps, lambda: quota_message(deps, text))
