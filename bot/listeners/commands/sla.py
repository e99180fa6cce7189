"""`/sla`: your open queue (`/sla`), your team's (`/sla team`), the terms (`/sla terms`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.deps import Deps, deps_of
from bot.listeners.answering import answer_command
from bot.services import lead_actions
from bot.services.agreements import version_in_force

SUBCOMMANDS = ("", "mine", "team", "terms", "help")


def queue_message(deps: Deps, client: WebClient, user_id: str, *, team: bool) -> dict[str, Any]:
    """The caller's open leads (or their reps'), with deadlines and the alert buttons."""
    renderer = deps.renderer
    try:
        ctx = lead_actions.context(deps.engine, client, deps.settings, renderer)
    except LookupError:
        return {"text": renderer.slack_text("sla/none.txt.j2")}
    email = lead_actions.email_of(deps.engine, client, user_id)
    if email is None:
        return {"text": renderer.slack_text("sla/who.txt.j2")}
    if team and not any(rep.manager == email for rep in ctx.agreement.reps):
        return {"text": renderer.slack_text("sla/not_a_manager.txt.j2", email=email)}
    message = lead_actions.my_queue(ctx, email=email, team=team, now=datetime.now(UTC))
    return message.payload


def sla_message(
    deps: Deps,
    text: str,
    *,
    today: date | None = None,
    client: WebClient | None = None,
    user_id: str = "",
) -> dict[str, Any]:
    words = text.split()
    sub = words[0].lower() if words else ""
    renderer = deps.renderer
    if sub in ("", "mine", "team") and client is not None and len(words) <= 1:
        return queue_message(deps, client, user_id, team=sub == "team")
    help_text = renderer.slack_text("sla/help.txt.j2")
    if sub == "terms":
        found = version_in_force(deps.engine, on=today or date.today())
        if found is None:
            return {"text": renderer.slack_text("sla/none.txt.j2")}
        row, agreement = found
        blocks = renderer.blocks(
            "sla/terms.json.j2",
            agreement=agreement,
            version=row.version,
            in_force_from=row.in_force_from,
        )
        return {"text": f"{agreement.agreement.name} (version {row.version})", "blocks": blocks}
    if sub == "help":
        return {"text": f"```{help_text}```"}
    return {"text": renderer.slack_text("sla/unknown.txt.j2", typed=text.strip(), help=help_text)}


def handle_sla(
    ack: Ack, command: dict, respond: Respond, client: WebClient, context: BoltContext
) -> None:
    deps = deps_of(context)
    text, user = command.get("text") or "", command.get("user_id", "")
    answer_command(ack, respond, deps, lambda: sla_message(deps, text, client=client, user_id=user))
