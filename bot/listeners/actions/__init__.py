"""The buttons. Each press is acknowledged at once; its work (tried again while the database
is busy) answers through the response URL or the message it redraws. Work that a busy
database holds up goes on after Slack has had its answer (Slack waits 3 s)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.listeners.actions.digest_details import handle_digest_details
from bot.listeners.actions.quota_share import handle_quota_share
from bot.listeners.actions.sla_alert import (
    handle_contacted,
    handle_open_home,
    handle_page,
    handle_recycle,
    handle_snooze,
)
from bot.listeners.answering import ANSWER_WITHIN, answer_in_time, patiently, tell_failure

if TYPE_CHECKING:
    from bot.app import Deps

Handler = Callable[[dict, Respond, WebClient, "Deps"], None]
BUTTONS: dict[str, Handler] = {
    "sla_contacted": handle_contacted,
    "sla_snooze": handle_snooze,
    "digest_details": handle_digest_details,
    "quota_share": lambda body, respond, _client, deps: handle_quota_share(body, respond, deps),
    "sla_open_home": handle_open_home,
    "sla_page": handle_page,
}


def register(app: App, deps: Deps) -> None:
    for action_id, handler in BUTTONS.items():
        app.action(action_id)(_pressed(handler, deps))

    @app.action("sla_recycle")
    def recycle(ack: Ack, body: dict, respond: Respond, client: WebClient) -> None:
        ack()
        # the modal must open within the press's 3-second trigger: no waiting for a busy database
        patiently(lambda: handle_recycle(body, respond, client, deps), patience=ANSWER_WITHIN)


def _pressed(handler: Handler, deps: Deps):  # type: ignore[no-untyped-def]
    def listener(ack: Ack, body: dict, respond: Respond, client: WebClient) -> None:
        ack()
        answer_in_time(
            lambda: handler(body, respond, client, deps),
            late=lambda: None,
            then=tell_failure(respond, deps),
        )

    return listener
