"""What slabot needs of a CRM: one `Connector` per CRM folder (`hubspot/`, `salesforce/`),
listed in `registry.py`. Nothing outside a CRM's folder knows which CRM it is talking to."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from bot.intake.exports import CrmFormat
from bot.intake.sync_pass import Pass
from bot.intake.webhooks import WebhookResult
from bot.intake.write_back import CrmRecords
from bot.settings import Settings


@dataclass(frozen=True)
class SignedRequest:
    """A webhook request as its sender signed it."""

    method: str
    uri: str  # the public URL it was sent to
    headers: Mapping[str, str]  # names lower-cased
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass(frozen=True)
class Webhook:
    """A CRM's signed webhook, served at `/webhooks/<name>`."""

    setting: str  # the setting that holds its secret
    secret: Callable[[Settings], str]
    verify: Callable[[str, SignedRequest], bool]  # (secret, request) → signed by the CRM
    refusal: str  # what a request that is not is told
    apply: Callable[[Engine, object], WebhookResult]


@dataclass(frozen=True)
class Connector:
    """One CRM: its files, its API client, a sync pass and the write-back of Slack's actions."""

    export: CrmFormat  # its export files, and its API records read as rows of them
    title: str  # as people write it: "HubSpot"
    setup: str  # the settings that connect it, for a message that asks for them
    connected: Callable[[Settings], bool]  # whether the settings give its credentials
    client: Callable[[Settings], Any]  # its API client
    # (client, pass, since, read_in_process): one pass over what changed since the cursor
    sync: Callable[[Any, Pass, datetime | None, bool], None]
    records: Callable[[Any], CrmRecords]  # the write-back's view of the client
    webhook: Webhook | None = None

    @property
    def name(self) -> str:
        """Its `[crm.<name>]` section, its leads' `source_system`, its sync cursors."""
        return self.export.name
