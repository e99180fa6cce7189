"""The outbox's one sender, for every flow."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.settings import Settings
from bot.slack.client import make_web_client
from bot.slack.delivery import SLACK, Sender
from storage import pauses
from storage.alerts import claim_action

log = logging.getLogger(__name__)


def sender(engine: Engine, settings: Settings, client: WebClient | None = None) -> Sender:
    """The outbox's sender: Slack messages, and Slack's actions written back to the CRM."""
    from bot.services.crm_sync import crm_writer

    return Sender(
        engine,
        client or make_web_client(settings),
        lease=timedelta(seconds=settings.send_lease),
        retry_base=timedelta(seconds=settings.retry_base),
        crm=crm_writer(engine, settings),
    )


def pause_delivery(engine: Engine, reason: str) -> None:
    """Stop sending to Slack, saying why (the app was uninstalled, its tokens revoked): what is
    queued stays queued, and sending resumes once Slack accepts the bot token again."""
    with engine.begin() as connection:
        first = pauses.pause(connection, SLACK, reason=reason, now=datetime.now(UTC))
    if first:
        log.error(
            "Slack says %s: delivery is paused and nothing is lost; it resumes by itself once "
            "the app is installed again and Slack accepts SLACK_BOT_TOKEN",
            reason,
        )


def first_delivery(engine: Engine, event_id: str) -> bool:
    """Whether this Events API delivery is the first of its event (Slack retries an event it
    thinks went unanswered, with the same `event_id`)."""
    with engine.begin() as connection:
        return claim_action(connection, key=f"event:{event_id}", at=datetime.now(UTC))
