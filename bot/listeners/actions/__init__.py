from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt import Ack, App, Respond

from bot.listeners.actions.quota_share import handle_quota_share

if TYPE_CHECKING:
    from bot.app import Deps


def register(app: App, deps: Deps) -> None:
    @app.action("quota_share")
    def quota_share(ack: Ack, body: dict, respond: Respond) -> None:
        handle_quota_share(ack, body, respond, deps)
