"""The outbox's one sender, for every flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.settings import Settings
from bot.slack.client import make_web_client
from bot.slack.delivery import Sender, pause_delivery
from storage.alerts import claim_action

__all__ = ["first_delivery", "pause_delivery", "sender"]  # the listeners' way to delivery


def sender(engine: Engine, settings: Settings, client: WebClient | None = None) -> Sender:
    """The outbox's sender: Slack messages, and Slack's actions written back to the CRM."""
    from bot.intake.sync import crm_writer

    return Sender(
        engine,
        client or make_web_client(settings),
        lease=timedelta(seconds=settings.send_lease),
        retry_base=timedelta(seconds=settings.retry_base),
        crm=crm_writer(engine, settings),
    )


def first_delivery(engine: Engine, event_id: str) -> bool:
    """Whether this Events API delivery is the first of its event (Slack retries an event it
    thinks went unanswered, with the same `event_id`)."""
    with engine.begin() as connection:
        return claim_action(connection, key=f"event:{event_id}", at=datetime.now(UTC))
