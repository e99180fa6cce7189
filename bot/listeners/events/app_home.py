"""The App Home tab: what slabot does, the commands, and the quota math in force."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_sdk import WebClient

from bot.domain.quota_args import QuotaInputError, QuotaRequest
from bot.services.quota import answer_quota

if TYPE_CHECKING:
    from bot.app import Deps


def handle_app_home_opened(event: dict, client: WebClient, deps: Deps) -> None:
    if event.get("tab") != "home":
        return
    try:
        answer = answer_quota(deps.engine, QuotaRequest())
    except QuotaInputError:
        answer = None
    blocks = deps.renderer.blocks(
        "home.json.j2", answer=answer, grammar=deps.renderer.text("quota/grammar.txt.j2")
    )
    client.views_publish(user_id=event["user"], view={"type": "home", "blocks": blocks})
