"""`/sla`: the agreement's terms in Slack (`/sla terms`)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack

from bot.services.agreements import version_in_force

if TYPE_CHECKING:
    from bot.app import Deps

SUBCOMMANDS = ("terms", "help")


def sla_message(deps: Deps, text: str, *, today: date | None = None) -> dict[str, Any]:
    words = text.split()
    sub = words[0].lower() if words else "help"
    renderer = deps.renderer
    help_text = renderer.text("sla/help.txt.j2")
    if sub == "terms":
        found = version_in_force(deps.engine, on=today or date.today())
        if found is None:
            return {"text": renderer.text("sla/none.txt.j2")}
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
    return {"text": renderer.text("sla/unknown.txt.j2", typed=text.strip(), help=help_text)}


def handle_sla(ack: Ack, command: dict, deps: Deps) -> None:
    ack(response_type="ephemeral", **sla_message(deps, command.get("text") or ""))
