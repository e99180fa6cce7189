"""The workspace's own events: an uninstall, or revoked bot tokens, stop the sending (delivery
pauses and says why) instead of calling Slack into `invalid_auth`."""

from __future__ import annotations

from slack_bolt import BoltContext

from bot.deps import deps_of
from bot.flows.delivery import pause_delivery


def handle_app_uninstalled(context: BoltContext) -> None:
    pause_delivery(deps_of(context).engine, "app_uninstalled")


def handle_tokens_revoked(event: dict, context: BoltContext) -> None:
    if (event.get("tokens") or {}).get("bot"):  # a user's token alone changes nothing here
        pause_delivery(deps_of(context).engine, "tokens_revoked")
