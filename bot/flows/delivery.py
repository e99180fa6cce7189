"""The outbox's one sender, for every flow."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.settings import Settings
from bot.slack.client import make_web_client
from bot.slack.delivery import Sender


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
