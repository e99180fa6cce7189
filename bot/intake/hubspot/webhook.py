"""HubSpot's signed webhook (v3 signatures): contact events applied one by one (read by
`events.py`), in `occurredAt` order, an older value never over a newer one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy.engine import Connection, Engine

from bot.domain.leads import LeadRecord, RowError, finish
from bot.intake.exports import SYNCED, fix_line
from bot.intake.hubspot import events
from bot.intake.hubspot.export import FORMAT
from bot.intake.mapping import ingest_context, mapping_for
from bot.intake.webhooks import PayloadRejected, WebhookResult
from storage import crm_records, ingest_log, people
from storage.db import begin_writing
from storage.ingest import crm_times, lead_ids, save_crm_times, upsert_leads

log = logging.getLogger(__name__)
REPLAY_SECONDS = 5 * 60
# HubSpot's v3 rule: these URL-encoded characters are decoded in the URI before signing; every
# other escape (%20, %26, %3D, %2B, %C3%BC …) stays as it was sent
_V3_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
    "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}  # fmt: skip
_V3_ESCAPE = re.compile("|".join(_V3_DECODED), re.IGNORECASE)


def hubspot_signed_uri(uri: str) -> str:
    """The request URI as HubSpot signs it (v3): the listed escapes decoded, others kept."""
    return _V3_ESCAPE.sub(lambda match: _V3_DECODED[match.group(0).upper()], uri)


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
    source = method.encode() + hubspot_signed_uri(uri).encode() + body + timestamp.encode()
    expected = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


def apply_hubspot(engine: Engine, body: object) -> WebhookResult:
    """Apply each contact event on its own, in `occurredAt` order: an event that cannot be
    applied is kept as rejected with its reason, and the rest still apply; a property's older
    value never overwrites a newer one (even across deliveries)."""
    now = datetime.now(UTC)
    _, agreement = ingest_context(engine)
    try:
        batch = events.read_batch(body)
    except RowError as error:
        raise PayloadRejected(error.reason) from error
    with engine.begin() as connection:
        begin_writing(connection)  # SQLite: concurrent deliveries queue for the write lock
        mapping = mapping_for(agreement, FORMAT, slack_names=people.real_names(connection))
        ids = sorted({event.object_id for event in batch.events})
        times = crm_times(connection, source_system="hubspot", external_ids=ids)
        records: dict[str, LeadRecord] = {}
        life: list[events.Event] = []  # deletions, erasures, restores, merges
        rejected = list(batch.rejected)
        stale = 0
        for event in batch.events:
            if event.kind in events.RECORD_KINDS:
                life.append(event)
                continue
            seen = times.setdefault(event.object_id, {})
            key = event.property or events.CREATION
            # "*": a live sync stored the whole contact as it was at that time
            if not events.reads(event, mapping) or (
                max(seen.get(key, -1), seen.get(SYNCED, -1)) > event.occurred_ms
            ):
                stale += 1  # a property slabot does not keep, or an older value than stored
                continue
            record = LeadRecord(event.object_id)
            try:
                applied = events.apply_event(event, record, mapping)
            except RowError as error:
                rejected.append((dict(event.raw), f"{error.column}: {error.reason}"))
                continue
            if applied:
                seen[key] = event.occurred_ms
                _fold(records, record)
            else:
                stale += 1
        # a contact's creation alone is no lead fact (HubSpot's Test button sends one)
        bare = [object_id for object_id, record in records.items() if _created_only(record)]
        known = lead_ids(connection, source_system="hubspot", external_ids=bare) if bare else {}
        for object_id in set(bare) - set(known):
            del records[object_id]
            stale += 1
        written = [finish(record) for record in records.values()]
        counts = upsert_leads(connection, written, source_system="hubspot", origin="webhook")
        save_crm_times(connection, source_system="hubspot", times={i: times[i] for i in records})
        changed = sum(_apply_life(connection, event) for event in life)
        stale += len(life) - changed
        ingest_log.reject_events(connection, rejected, source_system="hubspot", at=now)
        unmapped: Counter[tuple[str, str]] = Counter(
            pair for record in written for pair in record.unmapped
        )
        unowned = sum(1 for record in written if "owner" in dict(record.unmapped))
        ingest_log.record_run(
            connection,
            at=now,
            channel="webhook",
            source_system="hubspot",
            name="/webhooks/hubspot",
            counts={
                "events": len(batch.events),
                "inserted": counts.inserted,
                "updated": counts.updated + changed,
                "rejected": len(rejected),
                "ignored": stale + batch.ignored,
                "unowned": unowned,
            },
            unmapped=ingest_log.by_kind(unmapped),
        )
    for _, reason in rejected:
        log.warning("HubSpot event rejected (kept in rejected_event): %s", reason)
    counts.updated += changed
    return WebhookResult(
        counts,
        sum(len(record.touches) for record in written),
        rejected=[reason for _, reason in rejected],
        ignored=stale + batch.ignored,
        unowned=unowned,
        unmatched=[
            f"{what} {value!r} {'matches no rep' if what == 'owner' else 'is not mapped'}: "
            f"{fix_line(FORMAT, what, value)}"
            for what, value in unmapped
        ],
        per_event=True,
    )


def _fold(records: dict[str, LeadRecord], record: LeadRecord) -> None:
    """Add one event's facts to what the batch holds for that contact."""
    held = records.get(record.external_id)
    if held is None:
        records[record.external_id] = record
        return
    held.values.update(record.values)
    held.touches.extend(record.touches)
    held.unmapped.extend(record.unmapped)


def _created_only(record: LeadRecord) -> bool:
    return not record.touches and set(record.values) <= {"created_at", "crm_url"}


def _apply_life(connection: Connection, event: events.Event) -> bool:
    """A deletion, erasure, restore or merge applied to the stored lead(s); False if none."""
    where = {"source_system": "hubspot", "external_id": event.object_id}
    if event.kind == events.DELETION:
        return crm_records.close_deleted(connection, **where, at=event.occurred_at)
    if event.kind == events.ERASURE:  # HubSpot sends a deletion too; close it anyway
        closed = crm_records.close_deleted(connection, **where, at=event.occurred_at)
        return crm_records.erase_personal_data(connection, **where, event_key="objectId") or closed
    if event.kind == events.RESTORE:
        return crm_records.reopen_restored(connection, **where)
    return crm_records.merge_leads(
        connection, source_system="hubspot", into=event.object_id, merged=event.merged
    )
