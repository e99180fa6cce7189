from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt import Ack, App

from bot.listeners.commands.quota import handle_quota

if TYPE_CHECKING:
    from bot.app import Deps


def register(app: App, deps: Deps) -> None:
    @app.command("/quota")
    def quota(ack: Ack, command: dict) -> None:
        handle_quota(ack, command, deps)
