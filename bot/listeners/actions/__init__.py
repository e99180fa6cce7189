from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.listeners.actions.digest_details import handle_digest_details
from bot.listeners.actions.quota_share import handle_quota_share
from bot.listeners.actions.sla_alert import handle_contacted, handle_recycle, handle_snooze

if TYPE_CHECKING:
    from bot.app import Deps


def register(app: App, deps: Deps) -> None:
    @app.action("quota_share")
    def quota_share(ack: Ack, body: dict, respond: Respond) -> None:
        handle_quota_share(ack, body, respond, deps)

    @app.action("sla_contacted")
    def contacted(ack: Ack, body: dict, respond: Respond, client: WebClient) -> None:
        handle_contacted(ack, body, respond, client, deps)

    @app.action("sla_snooze")
    def snooze(ack: Ack, body: dict, respond: Respond, client: WebClient) -> None:
        handle_snooze(ack, body, respond, client, deps)

    @app.action("sla_recycle")
    def recycle(ack: Ack, body: dict, respond: Respond, client: WebClient) -> None:
        handle_recycle(ack, body, respond, client, deps)

    @app.action("digest_details")
    def digest_details(ack: Ack, body: dict, respond: Respond, client: WebClient) -> None:
        handle_digest_details(ack, body, respond, client, deps)
