"""The lead actions' context for a listener: the agreement in force, and the outbox's one
sender (`bot.flows.delivery`), which sends a redraw or a write-back at once."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.deps import Deps
from bot.flows.delivery import sender
from bot.services import lead_actions


def lead_context(deps: Deps, client: WebClient) -> lead_actions.Context:
    """Raises lead_actions.NoAgreement before an agreement is in force."""
    deliverer = sender(deps.engine, deps.settings, client)
    return lead_actions.context(deps.engine, client, deps.settings, deps.renderer, deliverer)
