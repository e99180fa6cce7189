"""HubSpot's webhook events → lead records (pure: no I/O).

Both subscription styles are read: the legacy `contact.*` and the generic `object.*` with
`objectTypeId` `0-1` (contacts). Creations and property changes become lead facts; deletions,
privacy deletions (erasure), restores and merges change the lead's life (`RECORD_KINDS`). Each
event stands alone: one that cannot be applied is rejected with its reason and the others still
apply. Events apply in `occurredAt` order, and a property's older value never overwrites a
newer one.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.domain.leads import LeadRecord, RowError, TouchRecord
from bot.intake.exports import STATUS_CHOICES, CrmMapping, set_segment, suggested_status
from bot.intake.values import read_email, read_number, read_text

CONTACT_TYPE = "0-1"
_LIFECYCLE_FIELD = {
    "mql": "mql_at", "sal": "sal_at", "sql": "sql_at", "opportunity": "opportunity_at",
    "recycled": "recycled_at",
}  # fmt: skip
# a rep's logged call, email or meeting (HubSpot's *Last Contacted*). Not *Last Engagement
# Date* (`hs_last_sales_activity_timestamp`) nor the sales email opened/clicked/replied dates:
# HubSpot sets those when the contact acts, and the prospect's activity is no rep's touch.
_TOUCH_PROPERTIES = ("notes_last_contacted",)
CREATION = "creation"
PROPERTY_CHANGE = "propertyChange"
DELETION, ERASURE, RESTORE, MERGE = "deletion", "privacyDeletion", "restore", "merge"
RECORD_KINDS = (DELETION, ERASURE, RESTORE, MERGE)  # the record's life, not its properties


@dataclass(frozen=True)
class Event:
    object_id: str
    occurred_ms: int
    kind: str  # creation | propertyChange
    property: str  # "" for a creation
    value: str
    raw: Mapping[str, object]
    merged: tuple[str, ...] = ()  # a merge: every id that now points at `object_id`

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
    if kind not in (CREATION, PROPERTY_CHANGE, *RECORD_KINDS):
        return None  # associations and other subscriptions: not lead facts
    object_id = _record_id(event["objectId"], "objectId")
    try:
        occurred = int(str(event["occurredAt"]))
        datetime.fromtimestamp(occurred / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise RowError(
            "occurredAt", f"{event['occurredAt']!r} is not a time in epoch milliseconds"
        ) from None
    if kind == MERGE:
        return _merge(event, occurred)
    name = event.get("propertyName", "")
    if kind == PROPERTY_CHANGE and not isinstance(name, str):
        raise RowError("propertyName", "is required for a property change")
    value = event.get("propertyValue")
    text = "" if value is None else str(value).strip()
    return Event(object_id, occurred, kind, str(name or ""), text, event)


def _merge(event: dict, occurred: int) -> Event:
    """HubSpot merges `mergedObjectIds` into `primaryObjectId`; the result is `newObjectId`
    where HubSpot created a new record for it, and every earlier id points at the result."""
    merged = event.get("mergedObjectIds")
    if not isinstance(merged, list) or not merged:
        raise RowError("mergedObjectIds", "must list the merged record ids")
    primary = _record_id(event.get("primaryObjectId"), "primaryObjectId")
    new = event.get("newObjectId")
    result = _record_id(new, "newObjectId") if new else primary
    ids = [primary, *(_record_id(value, "mergedObjectIds") for value in merged)]
    earlier = tuple(dict.fromkeys(i for i in ids if i != result))
    return Event(result, occurred, MERGE, "", "", event, earlier)


def _record_id(value: object, key: str) -> str:
    text = str(value).strip()
    if not text.isdigit():
        raise RowError(key, f"{value!r} is not a HubSpot record id")
    return text


def reads(event: Event, mapping: CrmMapping) -> bool:
    """Whether the event carries a property slabot keeps (a creation or a record event
    always does; the agreement's segment field is one): a change of any other property
    stores nothing."""
    return (
        event.kind != PROPERTY_CHANGE
        or event.property in _READ_PROPERTIES
        or event.property == mapping.segment_field
    )


_READ_PROPERTIES = frozenset(
    ("lifecyclestage", "hubspot_owner_id", "hs_lead_status", "email", "company", "hubspotscore",
     "hs_analytics_source", *_TOUCH_PROPERTIES)
)  # fmt: skip


def apply_event(event: Event, record: LeadRecord, mapping: CrmMapping) -> bool:
    """Apply a creation or property change to the contact's record; False if it carries
    nothing slabot keeps (an empty value). Raises RowError (with the setting that fixes it)
    for a value that cannot be mapped."""
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
            raise _unknown("lead status", text, "lead_statuses", _suggested(text))
        if rule.stage == "recycled":
            values["stage"], values["recycled_at"], values["recycle_reason"] = (
                "recycled",
                at,
                text,
            )
        if rule.contacted:  # the status change's own time is the evidence
            record.touches.append(TouchRecord(event.object_id, at, "inferred", ""))
    elif name == "email" and text:
        values["email"] = read_email(text, "propertyValue")
    elif name == "company":
        values["company"] = read_text(text, "propertyValue") or None
    elif name == "hubspotscore" and text:
        values["score"] = read_number(text, "propertyValue")
    elif name == "hs_analytics_source" and text:
        values["source"] = mapping.source(text)
    elif name == mapping.segment_field:
        if not text:
            return False
        set_segment(text, record, mapping)
    elif name in _TOUCH_PROPERTIES and text:
        record.touches.append(TouchRecord(event.object_id, _epoch_ms(text, at), "other", ""))
    else:
        return False
    return True


# the lead's fields each property sets: a newer event's value that an older snapshot keeps
PROPERTY_FIELDS = {
    "lifecyclestage": ("stage",),
    "hubspot_owner_id": ("owner_email", "crm_owner", "assigned_at"),
    "hs_lead_status": ("stage", "recycled_at", "recycle_reason"),
    "email": ("email",),
    "company": ("company",),
    "hubspotscore": ("score",),
    "hs_analytics_source": ("source",),
}


def _epoch_ms(text: str, default: datetime) -> datetime:
    """A date property's value (epoch milliseconds); the event's own time where it has none."""
    if not text.isdigit():
        return default
    try:
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise RowError("propertyValue", f"{text!r} is not a time in epoch milliseconds") from None


def _suggested(status: str) -> str:
    return STATUS_CHOICES[suggested_status(status)][0]


def _unknown(what: str, value: str, setting: str, example: str) -> RowError:
    return RowError(
        "propertyValue",
        f"{what} {value!r} is not known: map it under [crm.hubspot.{setting}], "
        f'e.g. "{value}" = {example}',
    )
