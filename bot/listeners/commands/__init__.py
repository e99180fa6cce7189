from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.listeners.commands.pace import handle_pace
from bot.listeners.commands.quota import handle_quota
from bot.listeners.commands.sla import handle_sla

if TYPE_CHECKING:
    from bot.app import Deps


def register(app: App, deps: Deps) -> None:
    @app.command("/quota")
    def quota(ack: Ack, command: dict, respond: Respond) -> None:
        handle_quota(ack, command, respond, deps)

    @app.command("/sla")
    def sla(ack: Ack, command: dict, respond: Respond, client: WebClient) -> None:
        handle_sla(ack, command, respond, client, deps)

    @app.command("/pace")
    def pace(ack: Ack, command: dict, respond: Respond) -> None:
        handle_pace(ack, command, respond, deps)
