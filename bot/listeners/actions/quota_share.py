"""The "Share in channel" button under a `/quota` answer."""

from __future__ import annotations

from slack_bolt import Respond
from slack_sdk import WebClient

from bot.deps import Deps
from bot.listeners.answering import pressed
from bot.listeners.commands.quota import quota_message


@pressed
def handle_quota_share(body: dict, respond: Respond, _client: WebClient, deps: Deps) -> None:
    text = body["actions"][0].get("value", "")
    message = quota_message(deps, text, shared_by=body["user"]["id"])
    respond(delete_original=True)
    respond(response_type="in_channel", replace_original=False, **message)
