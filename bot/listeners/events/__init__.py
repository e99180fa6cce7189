from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt import App
from slack_sdk import WebClient

from bot.listeners.events.app_home import handle_app_home_opened

if TYPE_CHECKING:
    from bot.app import Deps


def register(app: App, deps: Deps) -> None:
    @app.event("app_home_opened")
    def app_home_opened(event: dict, client: WebClient) -> None:
        handle_app_home_opened(event, client, deps)
