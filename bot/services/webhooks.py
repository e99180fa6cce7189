"""Signed webhooks: slabot's native lead feed and HubSpot's contact events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import unquote

from slack_sdk.signature import SignatureVerifier
from sqlalchemy.engine import Engine

from bot.domain import ingest as rows
from bot.services.ingest import ingest_context, mapping_for
from storage.ingest import LeadCounts, record_touches, upsert_leads

REPLAY_SECONDS = 5 * 60


class PayloadRejected(ValueError):
    """The body cannot be applied; nothing was."""


@dataclass(frozen=True)
class WebhookResult:
    leads: LeadCounts
    touches: int


def slabot_signature_valid(secret: str, *, timestamp: str, body: bytes, signature: str) -> bool:
    """`X-Slabot-Signature: v0=hex(hmac_sha256(secret, "v0:{ts}:{body}"))`, Slack's v0 scheme,
    checked with slack_sdk's verifier (constant-time, 5-minute replay window)."""
    if not timestamp.isdigit():
        return False
    return SignatureVerifier(secret).is_valid(body=body, timestamp=timestamp, signature=signature)


def hubspot_signature_valid(
    secret: str,
    *,
    method: str,
    uri: str,
    body: bytes,
    timestamp: str,
    signature: str,
    now: float | None = None,
) -> bool:
    """HubSpot's v3 signature: base64(HMAC-SHA256(client secret, method + URI + body +
    timestamp)), the timestamp in milliseconds and no older than five minutes."""
    try:
        sent = int(timestamp) / 1000
    except ValueError:
        return False
    if abs((now or time.time()) - sent) > REPLAY_SECONDS:
        return False
    source = f"{method}{unquote(uri)}{body.decode('utf-8', 'replace')}{timestamp}".encode()
    expected = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, signature)


def apply_native(engine: Engine, payload: object) -> WebhookResult:
    """Upsert the payload's leads, then its touches, in one transaction, or nothing at all."""
    tz, _ = ingest_context(engine)
    try:
        leads, touches = rows.native_payload(payload, tz)
    except rows.RowError as error:
        raise PayloadRejected(error.reason if error.column == "body" else str(error)) from error
    with engine.begin() as connection:
        counts = upsert_leads(connection, leads, source_system="native", origin="webhook")
        recorded, unknown = record_touches(connection, touches, source_system="native")
        if unknown:
            missing = sorted({touches[index].lead_external_id for index in unknown})
            raise PayloadRejected(f"touches name unknown lead(s): {', '.join(missing)}")
    return WebhookResult(counts, recorded)


def apply_hubspot(engine: Engine, events: object) -> WebhookResult:
    _, agreement = ingest_context(engine)
    try:
        records = rows.hubspot_events(events, mapping_for(agreement, "hubspot"))
    except rows.RowError as error:
        raise PayloadRejected(error.reason) from error
    with engine.begin() as connection:
        counts = upsert_leads(connection, records, source_system="hubspot", origin="webhook")
    return WebhookResult(counts, sum(len(record.touches) for record in records))
