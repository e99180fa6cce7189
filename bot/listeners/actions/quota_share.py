"""The "Share in channel" button under a `/quota` answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt import Respond

from bot.listeners.commands.quota import quota_message

if TYPE_CHECKING:
    from bot.app import Deps


def handle_quota_share(body: dict, respond: Respond, deps: Deps) -> None:
    text = body["actions"][0].get("value", "")
    message = quota_message(deps, text, shared_by=body["user"]["id"])
    respond(delete_original=True)
    respond(response_type="in_channel", replace_original=False, **message)
