"""Signed webhooks: what every feed answers (`WebhookResult`, `PayloadRejected`), and slabot's
native lead feed. A CRM's own webhook is its folder's `webhook.py`."""

from __future__ import annotations

from dataclasses import dataclass, field

from slack_sdk.signature import SignatureVerifier
from sqlalchemy.engine import Engine

from bot.domain.leads import RowError
from bot.intake.mapping import ingest_context
from bot.intake.native import native_payload
from storage.db import begin_writing
from storage.ingest import LeadCounts, record_touches, upsert_leads


class PayloadRejected(ValueError):
    """The body cannot be applied; nothing was."""


@dataclass(frozen=True)
class WebhookResult:
    leads: LeadCounts
    touches: int
    rejected: list[str] = field(default_factory=list)  # "event N: reason", kept in the database
    ignored: int = 0  # older than what is stored, or not about a contact
    unowned: int = 0
    unmatched: list[str] = field(default_factory=list)  # values, with the line that maps each
    per_event: bool = False  # each event applied on its own (HubSpot)


def slabot_signature_valid(secret: str, *, timestamp: str, body: bytes, signature: str) -> bool:
    """`X-Slabot-Signature: v0=hex(hmac_sha256(secret, "v0:{ts}:{body}"))`, Slack's v0 scheme,
    checked with slack_sdk's verifier (constant-time, 5-minute replay window)."""
    if not timestamp.isdigit():
        return False
    return SignatureVerifier(secret).is_valid(body=body, timestamp=timestamp, signature=signature)


def apply_native(engine: Engine, payload: object) -> WebhookResult:
    """Upsert the payload's leads, then its touches, in one transaction, or nothing at all."""
    tz, _ = ingest_context(engine)
    try:
        leads, touches = native_payload(payload, tz)
    except RowError as error:
        raise PayloadRejected(error.reason if error.column == "body" else str(error)) from error
    with engine.begin() as connection:
        begin_writing(connection)  # SQLite: concurrent deliveries queue for the write lock
        counts = upsert_leads(connection, leads, source_system="native", origin="webhook")
        recorded, unknown = record_touches(connection, touches, source_system="native")
        if unknown:
            missing = sorted({touches[index].lead_external_id for index in unknown})
            raise PayloadRejected(f"touches name unknown lead(s): {', '.join(missing)}")
    return WebhookResult(counts, recorded)
