"""HubSpot's webhook events → lead records (pure: no I/O).

Both subscription styles are read: the legacy `contact.creation` / `contact.propertyChange`
and the generic `object.creation` / `object.propertyChange` with `objectTypeId` `0-1`
(contacts). Each event stands alone: one that cannot be applied is rejected with its reason
and the others still apply. Events apply in `occurredAt` order, and a property's older value
never overwrites a newer one.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.domain.crm_exports import CrmMapping
from bot.domain.ingest import LeadRecord, RowError, TouchRecord, _email, _number, _text

SYNCED = "*"  # crm_times key: every property as of the contact's last synced modification

CONTACT_TYPE = "0-1"
_LIFECYCLE_FIELD = {
    "mql": "mql_at", "sal": "sal_at", "sql": "sql_at", "opportunity": "opportunity_at",
    "recycled": "recycled_at",
}  # fmt: skip
_TOUCH_PROPERTIES = ("notes_last_contacted", "hs_last_sales_activity_timestamp")
CREATION = "creation"


@dataclass(frozen=True)
class Event:
    object_id: str
    occurred_ms: int
    kind: str  # creation | propertyChange
    property: str  # "" for a creation
    value: str
    raw: Mapping[str, object]

    @builtins.property  # the field above is named `property`, as in HubSpot's payload
    def occurred_at(self) -> datetime:
        return datetime.fromtimestamp(self.occurred_ms / 1000, tz=UTC)


@dataclass
class Batch:
    """A webhook body read: the contact events to apply, in order, and what was set aside."""

    events: list[Event] = field(default_factory=list)
    rejected: list[tuple[object, str]] = field(default_factory=list)  # (event, reason)
    ignored: int = 0  # other objects and subscriptions: not lead facts


def read_batch(body: object) -> Batch:
    """Split a body into contact events (sorted by occurredAt) and rejects with reasons."""
    if not isinstance(body, list):
        raise RowError("body", "must be a JSON array of HubSpot events")
    batch = Batch()
    for event in body:
        try:
            parsed = _event(event)
        except RowError as error:
            batch.rejected.append((event, f"{error.column}: {error.reason}"))
            continue
        if parsed is None:
            batch.ignored += 1
        else:
            batch.events.append(parsed)
    batch.events.sort(key=lambda event: event.occurred_ms)  # stable: same-time order kept
    return batch


def _event(event: object) -> Event | None:
    if not isinstance(event, dict):
        raise RowError("event", "must be an object")
    for key in ("objectId", "occurredAt", "subscriptionType"):
        if key not in event:
            raise RowError(key, "is required")
    scope, _, kind = str(event["subscriptionType"]).partition(".")
    if scope == "object":
        if str(event.get("objectTypeId")) != CONTACT_TYPE:
            return None
    elif scope != "contact":
        return None
    if kind not in (CREATION, "propertyChange"):
        return None  # deletions, merges, restores, associations: not lead facts
    object_id = str(event["objectId"])
    if not object_id.isdigit():
        raise RowError("objectId", f"{event['objectId']!r} is not a HubSpot record id")
    try:
        occurred = int(str(event["occurredAt"]))
        datetime.fromtimestamp(occurred / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise RowError(
            "occurredAt", f"{event['occurredAt']!r} is not a time in epoch milliseconds"
        ) from None
    name = event.get("propertyName", "")
    if kind != CREATION and not isinstance(name, str):
        raise RowError("propertyName", "is required for a property change")
    value = event.get("propertyValue")
    text = "" if value is None else str(value).strip()
    return Event(object_id, occurred, kind, name or "", text, event)


def apply_event(event: Event, record: LeadRecord, mapping: CrmMapping) -> bool:
    """Apply one event to the contact's record; False if it carries nothing slabot keeps.
    Raises RowError (with the setting that fixes it) for a value that cannot be mapped."""
    values, at, text = record.values, event.occurred_at, event.value
    if mapping.record_url:
        values["crm_url"] = mapping.record_url.replace("{id}", event.object_id)
    if event.kind == CREATION:
        values.setdefault("created_at", at)
        return True
    name = event.property
    if name == "lifecyclestage" and text:
        stage = mapping.stage(text)
        if stage is None:
            raise _unknown("lifecycle stage", text, "stages", '"mql"')
        values["stage"] = stage
        if stage in _LIFECYCLE_FIELD:
            values[_LIFECYCLE_FIELD[stage]] = at
        elif stage in ("won", "lost"):
            values["closed_at"], values["outcome"] = at, stage
    elif name == "hubspot_owner_id":
        values["assigned_at"] = at
        values["crm_owner"] = text or None
        email = mapping.owners.resolve(text) if text else None
        values["owner_email"] = email
        if text and email is None:
            record.unmapped.append(("owner", text))
    elif name == "hs_lead_status" and text:
        rule = mapping.status(text)
        if rule is None:
            raise _unknown("lead status", text, "lead_statuses", "{ contacted = true }")
        if rule.stage == "recycled":
            values["stage"], values["recycled_at"], values["recycle_reason"] = (
                "recycled",
                at,
                text,
            )
        if rule.contacted:  # the status change's own time is the evidence
            record.touches.append(TouchRecord(event.object_id, at, "inferred", ""))
    elif name == "email" and text:
        values["email"] = _email(text, "propertyValue")
    elif name == "company":
        values["company"] = _text(text, "propertyValue") or None
    elif name == "hubspotscore" and text:
        values["score"] = _number(text, "propertyValue")
    elif name == "hs_analytics_source" and text:
        values["source"] = mapping.source(text)
    elif name in _TOUCH_PROPERTIES and text:
        touched = datetime.fromtimestamp(int(text) / 1000, tz=UTC) if text.isdigit() else at
        record.touches.append(TouchRecord(event.object_id, touched, "other", ""))
    else:
        return False
    return True


def _unknown(what: str, value: str, setting: str, example: str) -> RowError:
    return RowError(
        "propertyValue",
        f"{what} {value!r} is not known: map it under [crm.hubspot.{setting}], "
        f'e.g. "{value}" = {example}',
    )
