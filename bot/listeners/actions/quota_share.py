"""The "Share in channel" button under a `/quota` answer."""

from __future__ import annotations

from slack_bolt import Ack, BoltContext, Respond

from bot.listeners.commands.quota import quota_message


def handle_quota_share(ack: Ack, body: dict, respond: Respond, context: BoltContext) -> None:
    ack()
    text = body["actions"][0].get("value", "")
    message = quota_message(context, text, shared_by=body["user"]["id"])
    respond(delete_original=True)
    respond(response_type="in_channel", replace_original=False, **message)
