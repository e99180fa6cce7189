"""The digest's "Details" button: the full figures in a modal, for whoever clicked."""

from __future__ import annotations

from datetime import date

from slack_bolt import Respond
from slack_sdk import WebClient

from bot.deps import Deps
from bot.listeners.answering import pressed
from bot.services.digest import DigestError, compute_digest


@pressed
def handle_digest_details(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    try:
        team, day = str(body["actions"][0]["value"]).split("|")
        digest = compute_digest(
            deps.engine, team=team, day=date.fromisoformat(day), fresh=False, detail=True
        )
    except (KeyError, ValueError, DigestError) as error:
        respond(
            response_type="ephemeral",
            replace_original=False,
            text=deps.renderer.slack_text("digest/details_gone.txt.j2", error=str(error)),
        )
        return
    view = deps.renderer.view("digest/details_modal.json.j2", d=digest)
    client.views_open(trigger_id=body["trigger_id"], view=view)
