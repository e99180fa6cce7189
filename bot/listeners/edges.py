"""Slack's edges, answered before any listener: `app_rate_limited` (Slack says it dropped
events for a minute), a retried event (the same `event_id` again: handled once), and an action
whose id this release does not know (a button on a message from an older release)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltResponse

from bot.deps import Deps
from bot.flows.delivery import first_delivery

log = logging.getLogger(__name__)


def slack_edges(deps: Deps) -> Callable[..., BoltResponse]:
    """The middleware (after the signature check): answers what no listener should see."""

    def edges(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:
        kind = body.get("type")
        if kind == "app_rate_limited":
            log.warning(
                "Slack rate-limited this app's events for the minute %s: some events were "
                "dropped (the clock's scan and sync still see every lead)",
                body.get("minute_rate_limited"),
            )
            return BoltResponse(status=200, body="")
        event_id = body.get("event_id")
        if kind == "event_callback" and event_id and not first_delivery(deps.engine, event_id):
            return BoltResponse(status=200, body="")  # a retry of an event already handled
        return next()

    return edges


def handle_unknown_action(ack: Ack, body: dict[str, Any]) -> None:
    """Acknowledged, so the person sees no error, and logged."""
    ack()
    ids = [str(action.get("action_id")) for action in body.get("actions") or []]
    log.warning("an action this release does not know was pressed (%s): ignored", ", ".join(ids))
