from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.listeners.views.recycle import handle_recycle_submit

if TYPE_CHECKING:
    from bot.app import Deps


def register(app: App, deps: Deps) -> None:
    @app.view("sla_recycle")
    def recycle(ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        handle_recycle_submit(ack, body, view, client, deps)
