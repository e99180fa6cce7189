"""CRM rows → canonical lead and touch records (pure: no I/O).

Three lead formats are understood — slabot's native CSV, a HubSpot contacts export and a
Salesforce leads report — plus native touches. Each mapper raises :class:`RowError` naming the
column and the reason; nothing else escapes for bad input.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

LEAD_FIELDS = (
    "lead_id", "email", "name", "company", "source", "segment", "stage", "owner_email", "score",
    "created_at", "mql_at", "assigned_at", "sal_at", "sql_at", "opportunity_at", "closed_at",
    "outcome", "amount", "recycled_at", "recycle_reason", "first_touch_at",
)  # fmt: skip
TOUCH_FIELDS = ("lead_id", "touched_at", "kind", "rep_email")
TIME_FIELDS = (
    "created_at", "mql_at", "assigned_at", "sal_at", "sql_at", "opportunity_at", "closed_at",
    "recycled_at", "first_touch_at",
)  # fmt: skip
STAGES = ("lead", "mql", "sal", "sql", "opportunity", "won", "lost", "recycled")
STAGE_OF_FIELD = {
    "mql_at": "mql", "sal_at": "sal", "sql_at": "sql", "opportunity_at": "opportunity",
    "recycled_at": "recycled",
}  # fmt: skip
TOUCH_KINDS = ("call", "email", "meeting", "other")
STAGE_ALIASES = {
    "subscriber": "lead", "lead": "lead", "new": "lead", "other": "lead",
    "mql": "mql", "marketingqualifiedlead": "mql", "marketing qualified lead": "mql",
    "sal": "sal", "salesacceptedlead": "sal", "sales accepted lead": "sal",
    "sql": "sql", "salesqualifiedlead": "sql", "sales qualified lead": "sql",
    "opportunity": "opportunity", "opp": "opportunity",
    "won": "won", "customer": "won", "evangelist": "won", "closed won": "won",
    "lost": "lost", "closed lost": "lost",
    "recycled": "recycled", "recycle": "recycled", "disqualified": "recycled",
}  # fmt: skip
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_US_FORMATS = (
    "%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y, %I:%M %p",
    "%m/%d/%Y %I:%M %p", "%m/%d/%Y, %H:%M", "%m/%d/%Y %I:%M:%S %p",
)  # fmt: skip
MAX_TEXT = 500


class RowError(ValueError):
    """A row that cannot be used: which column, and why."""

    def __init__(self, column: str, reason: str) -> None:
        self.column, self.reason = column, reason
        super().__init__(f"{column}: {reason}")


@dataclass
class LeadRecord:
    """One lead in canonical form. `None` means "not given" (never erases a stored value)."""

    external_id: str
    values: dict[str, object] = field(default_factory=dict)
    touches: list[TouchRecord] = field(default_factory=list)
    fingerprint: str | None = None  # set from the raw cells by the CSV reader (cheaper)

    def digest(self) -> str:
        """A fingerprint of what the record says: re-importing an unchanged row is a no-op."""
        if self.fingerprint is not None:
            return self.fingerprint
        text = "\x1f".join(f"{key}={self.values.get(key)!s}" for key in sorted(self.values))
        return fingerprint(text)


def fingerprint(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True)
class TouchRecord:
    lead_external_id: str
    touched_at: datetime
    kind: str = "other"
    rep_email: str = ""


def parse_timestamp(text: str, tz: tzinfo, *, column: str) -> datetime:
    """ISO 8601 or a US-style CRM date (11/20/2026, 2:03 PM); naive times are in `tz`. → UTC."""
    raw = text.strip()
    try:
        return _parsed(raw, tz)
    except ValueError:
        raise RowError(
            column, f"{raw!r} is not a date/time (use ISO 8601, e.g. 2026-11-20T14:03)"
        ) from None


@functools.lru_cache(maxsize=1 << 17)  # exports repeat timestamps (dates, whole minutes)
def _parsed(raw: str, tz: tzinfo) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        for fmt in _US_FORMATS:
            try:
                value = datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
        else:
            raise
    if value.tzinfo is None:
        return (value - _utc_offset(tz, value)).replace(tzinfo=UTC)
    return value.astimezone(UTC)


_OFFSETS: dict[tuple[tzinfo, object, int, bool], timedelta] = {}


def _utc_offset(tz: tzinfo, local: datetime) -> timedelta:
    """The zone's UTC offset at a naive local time, memoised per half hour (offsets change on
    the hour or half hour), so a million timestamps cost a million dict look-ups."""
    key = (tz, local.date(), local.hour, local.minute >= 30)
    offset = _OFFSETS.get(key)
    if offset is None:
        if len(_OFFSETS) > 100_000:
            _OFFSETS.clear()
        offset = _OFFSETS[key] = local.replace(tzinfo=tz).utcoffset() or timedelta(0)
    return offset


def _email(text: str, column: str) -> str:
    value = text.strip().lower()
    if not _EMAIL.match(value):
        raise RowError(column, f"{text.strip()!r} is not an email address")
    return value


def _number(text: str, column: str) -> float:
    raw = text.strip().replace(",", "").removeprefix("$")
    try:
        return float(raw)
    except ValueError:
        raise RowError(column, f"{text.strip()!r} is not a number") from None


def _text(text: str, column: str) -> str:
    value = text.strip()
    if len(value) > MAX_TEXT:
        raise RowError(column, f"longer than {MAX_TEXT} characters")
    return value


@functools.lru_cache(maxsize=1024)  # a file has few distinct sources
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def canonical_stage(text: str, column: str = "stage") -> str:
    key = text.strip().lower().replace("_", " ")
    stage = STAGE_ALIASES.get(key) or STAGE_ALIASES.get(key.replace(" ", ""))
    if stage is None:
        raise RowError(column, f"{text.strip()!r} is not a stage (one of {', '.join(STAGES)})")
    return stage


def derive_stage(values: Mapping[str, object]) -> str:
    """The furthest stage the timestamps show, for rows that do not say."""
    if values.get("closed_at"):
        return "won" if values.get("outcome") == "won" else "lost"
    latest = None
    for column, stage in STAGE_OF_FIELD.items():
        at = values.get(column)
        if isinstance(at, datetime) and (latest is None or at >= latest[0]):
            latest = (at, stage)
    return latest[1] if latest else "lead"


def _finish(record: LeadRecord) -> LeadRecord:
    values = record.values
    if values.get("assigned_at") is None and values.get("mql_at") is not None:
        values["assigned_at"] = values["mql_at"]
    if values.get("outcome") and not values.get("closed_at"):
        raise RowError("closed_at", "an outcome needs the date the lead closed")
    if values.get("stage") is None and not values.keys().isdisjoint(TIME_FIELDS):
        values["stage"] = derive_stage(values)
    return record


def _outcome(text: str, column: str) -> str:
    outcome = text.strip().lower()
    if outcome not in ("won", "lost"):
        raise RowError(column, f"{text.strip()!r} is not won or lost")
    return outcome


def _native_converters() -> dict[str, Callable[[str, str, tzinfo], object]]:
    """How each native column's text becomes a value."""
    by_kind: dict[str, Callable[[str, str, tzinfo], object]] = {
        "time": lambda raw, column, tz: parse_timestamp(raw, tz, column=column),
        "email": lambda raw, column, _tz: _email(raw, column),
        "number": lambda raw, column, _tz: _number(raw, column),
        "stage": lambda raw, column, _tz: canonical_stage(raw, column),
        "outcome": lambda raw, column, _tz: _outcome(raw, column),
        "source": lambda raw, _column, _tz: _slug(raw),
        "text": lambda raw, column, _tz: _text(raw, column),
    }
    kinds = {"email": "email", "owner_email": "email", "score": "number", "amount": "number"}
    kinds |= {"stage": "stage", "outcome": "outcome", "source": "source"}
    return {
        column: by_kind["time" if column in TIME_FIELDS else kinds.get(column, "text")]
        for column in LEAD_FIELDS[1:]
    }


_NATIVE_CONVERTERS = _native_converters()


def native_lead(row: Mapping[str, str], tz: tzinfo) -> LeadRecord:
    """A row of slabot's native leads CSV (only `lead_id` is required)."""
    lead_id = (row.get("lead_id") or "").strip()
    if not lead_id:
        raise RowError("lead_id", "is required")
    if len(lead_id) > 255:
        raise RowError("lead_id", "longer than 255 characters")
    values: dict[str, object] = {}
    for column, convert in _NATIVE_CONVERTERS.items():
        raw = row.get(column)
        if raw and not raw.isspace():
            values[column] = convert(raw, column, tz)
    url = (row.get("crm_url") or "").strip()  # optional: where the record lives in the CRM
    if url:
        if not re.match(r"^https?://\S+$", url):
            raise RowError("crm_url", f"{url!r} is not an http(s) link")
        values["crm_url"] = url
    return _finish(LeadRecord(lead_id, values))


def native_touch(row: Mapping[str, str], tz: tzinfo) -> TouchRecord:
    lead_id = (row.get("lead_id") or "").strip()
    if not lead_id:
        raise RowError("lead_id", "is required")
    raw_time = (row.get("touched_at") or "").strip()
    if not raw_time:
        raise RowError("touched_at", "is required")
    kind = (row.get("kind") or "other").strip().lower() or "other"
    if kind not in TOUCH_KINDS:
        raise RowError("kind", f"{kind!r} is not one of {', '.join(TOUCH_KINDS)}")
    rep = (row.get("rep_email") or "").strip()
    return TouchRecord(
        lead_id,
        parse_timestamp(raw_time, tz, column="touched_at"),
        kind,
        _email(rep, "rep_email") if rep else "",
    )


# -- CRM exports ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrmMapping:
    """How a CRM export's labels map to slabot's fields; portals rename labels, so every part
    can be overridden from the agreement file's `[crm.<name>]` section."""

    columns: Mapping[str, str]  # canonical label → the label in this portal's export
    stages: Mapping[str, str] = field(default_factory=dict)  # CRM value → slabot stage
    sources: Mapping[str, str] = field(default_factory=dict)  # CRM value → slabot source
    owners: Mapping[str, str] = field(default_factory=dict)  # owner name → email
    record_url: str | None = None  # link to a record, with an {id} placeholder

    def label(self, canonical: str) -> str:
        return self.columns.get(canonical, canonical)


HUBSPOT_STAGES = {
    "subscriber": "lead", "lead": "lead", "marketingqualifiedlead": "mql",
    "marketing qualified lead": "mql", "salesqualifiedlead": "sql",
    "sales qualified lead": "sql", "opportunity": "opportunity", "customer": "won",
    "evangelist": "won", "other": "lead",
}  # fmt: skip
SALESFORCE_STAGES = {
    "open - not contacted": "mql", "working - contacted": "sal",
    "closed - converted": "sql", "closed - not converted": "recycled",
}  # fmt: skip


def _get(row: Mapping[str, str], mapping: CrmMapping, canonical: str) -> str:
    return (row.get(mapping.label(canonical)) or "").strip()


def _time(
    row: Mapping[str, str], mapping: CrmMapping, tz: tzinfo, canonical: str
) -> datetime | None:
    raw = _get(row, mapping, canonical)
    return parse_timestamp(raw, tz, column=mapping.label(canonical)) if raw else None


def _owner(raw: str, mapping: CrmMapping, column: str) -> str | None:
    if not raw:
        return None
    if raw in mapping.owners:
        return mapping.owners[raw].lower()
    if "@" in raw:
        return _email(raw, column)
    raise RowError(column, f"owner {raw!r} has no email: map it under [crm.*.owners]")


def _crm_stage(raw: str, mapping: CrmMapping, defaults: Mapping[str, str], column: str) -> str:
    if raw in mapping.stages:
        return canonical_stage(mapping.stages[raw], column)
    stage = defaults.get(raw.lower())
    return stage if stage else canonical_stage(raw, column)


def _name(row: Mapping[str, str], mapping: CrmMapping) -> str | None:
    full = " ".join(
        part for part in (_get(row, mapping, "First Name"), _get(row, mapping, "Last Name")) if part
    )
    return full or _get(row, mapping, "Name") or None


def hubspot_lead(row: Mapping[str, str], tz: tzinfo, mapping: CrmMapping) -> LeadRecord:
    """A row of a HubSpot contacts export."""
    record_id = _get(row, mapping, "Record ID")
    if not record_id:
        raise RowError(mapping.label("Record ID"), "is required")
    values: dict[str, object] = {}

    values["name"] = _name(row, mapping)
    if email := _get(row, mapping, "Email"):
        values["email"] = _email(email, mapping.label("Email"))
    values["company"] = _get(row, mapping, "Company Name") or None
    if stage := _get(row, mapping, "Lifecycle Stage"):
        values["stage"] = _crm_stage(
            stage, mapping, HUBSPOT_STAGES, mapping.label("Lifecycle Stage")
        )
    values["owner_email"] = _owner(
        _get(row, mapping, "Contact owner"), mapping, mapping.label("Contact owner")
    )
    values["created_at"] = _time(row, mapping, tz, "Create Date")
    values["mql_at"] = _time(row, mapping, tz, "Became a Marketing Qualified Lead Date")
    values["sql_at"] = _time(row, mapping, tz, "Became a Sales Qualified Lead Date")
    values["opportunity_at"] = _time(row, mapping, tz, "Became an Opportunity Date")
    if (won := _time(row, mapping, tz, "Became a Customer Date")) is not None:
        values["closed_at"], values["outcome"] = won, "won"
    values["assigned_at"] = _time(row, mapping, tz, "Owner Assigned Date")
    if source := _get(row, mapping, "Original Source"):
        values["source"] = mapping.sources.get(source) or _slug(source)
    if score := _get(row, mapping, "HubSpot Score"):
        values["score"] = _number(score, mapping.label("HubSpot Score"))
    return _crm_record(record_id, values, mapping, _time(row, mapping, tz, "Last Contacted"))


def salesforce_lead(row: Mapping[str, str], tz: tzinfo, mapping: CrmMapping) -> LeadRecord:
    """A row of a Salesforce leads report. A Salesforce lead is the hand-off, so its create date
    is its MQL date unless the mapping names another column for "MQL Date"."""
    lead_id = _get(row, mapping, "Lead ID")
    if not lead_id:
        raise RowError(mapping.label("Lead ID"), "is required")

    values: dict[str, object] = {"name": _name(row, mapping)}
    if email := _get(row, mapping, "Email"):
        values["email"] = _email(email, mapping.label("Email"))
    values["company"] = _get(row, mapping, "Company / Account") or None
    if source := _get(row, mapping, "Lead Source"):
        values["source"] = mapping.sources.get(source) or _slug(source)
    values["owner_email"] = _owner(
        _get(row, mapping, "Lead Owner"), mapping, mapping.label("Lead Owner")
    )
    created = _time(row, mapping, tz, "Create Date")
    values["created_at"] = created
    values["mql_at"] = (
        _time(row, mapping, tz, "MQL Date") if "MQL Date" in mapping.columns else created
    )
    status = _get(row, mapping, "Lead Status")
    if status:
        stage = _crm_stage(status, mapping, SALESFORCE_STAGES, mapping.label("Lead Status"))
        values["stage"] = stage
        if stage == "recycled":
            values["recycle_reason"] = status
    values["sql_at"] = _time(row, mapping, tz, "Converted Date")
    activity = _time(row, mapping, tz, "Last Activity")
    if values.get("stage") == "recycled":
        values["recycled_at"] = activity or created
    return _crm_record(lead_id, values, mapping, activity)


def _crm_record(
    external_id: str, values: dict[str, object], mapping: CrmMapping, last_touch: datetime | None
) -> LeadRecord:
    """A CRM export row's record: its link, and its latest activity as a touch (the export
    keeps only the latest one, which still proves the lead was touched by then)."""
    if mapping.record_url:
        values["crm_url"] = mapping.record_url.replace("{id}", external_id)
    record = LeadRecord(external_id, {k: v for k, v in values.items() if v is not None})
    if last_touch is not None:
        owner = str(values.get("owner_email") or "")
        record.touches.append(TouchRecord(external_id, last_touch, "other", owner))
    return _finish(record)


def is_report_footer(cells: list[str]) -> bool:
    """Salesforce's formatted report exports end with totals and a copyright notice."""
    first = cells[0].strip().lower() if cells else ""
    rest_blank = all(not cell.strip() for cell in cells[1:])
    return rest_blank and (
        not first
        or first.startswith(("grand totals", "total", "copyright", "confidential", "generated by"))
        or "salesforce.com" in first
    )


def detect_format(header: list[str], hubspot: CrmMapping, salesforce: CrmMapping) -> str | None:
    """native | touches | hubspot | salesforce, from the header row; None if unrecognised."""
    names = {name.strip() for name in header}
    if "lead_id" in names and "touched_at" in names:
        return "touches"
    if "lead_id" in names:
        return "native"
    if hubspot.label("Record ID") in names:
        return "hubspot"
    if salesforce.label("Lead ID") in names:
        return "salesforce"
    return None


# -- webhooks ------------------------------------------------------------------------------------

_LIFECYCLE_FIELD = {
    "mql": "mql_at", "sal": "sal_at", "sql": "sql_at", "opportunity": "opportunity_at",
    "recycled": "recycled_at",
}  # fmt: skip
_TOUCH_PROPERTIES = ("notes_last_contacted", "hs_last_sales_activity_timestamp")


def native_payload(payload: object, tz: tzinfo) -> tuple[list[LeadRecord], list[TouchRecord]]:
    """`{"leads": [...], "touches": [...]}` with the native field names. Raises RowError naming
    the item (`leads[2].mql_at`) for the first problem of every bad item."""
    if not isinstance(payload, dict):
        raise RowError("body", 'must be a JSON object like {"leads": [...], "touches": [...]}')
    unknown = set(payload) - {"leads", "touches"}
    if unknown:
        raise RowError(
            "body", f"unknown key(s) {', '.join(sorted(unknown))}; use leads and touches"
        )
    leads, touches, problems = [], [], []
    for kind, fields, mapper in (
        ("leads", LEAD_FIELDS, native_lead),
        ("touches", TOUCH_FIELDS, native_touch),
    ):
        items = payload.get(kind, [])
        if not isinstance(items, list):
            raise RowError(kind, "must be a list")
        for index, item in enumerate(items):
            where = f"{kind}[{index}]"
            try:
                if not isinstance(item, dict):
                    raise RowError("", "must be an object")
                extra = set(item) - set(fields)
                if extra:
                    raise RowError(sorted(extra)[0], "is not a known field")
                row = {key: "" if value is None else str(value) for key, value in item.items()}
                (leads if kind == "leads" else touches).append(mapper(row, tz))
            except RowError as error:
                column = f".{error.column}" if error.column else ""
                problems.append(f"{where}{column}: {error.reason}")
    if problems:
        raise RowError("body", "; ".join(problems))
    return leads, touches


def _epoch_ms(value: object, column: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(str(value)) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError):
        raise RowError(column, f"{value!r} is not a time in epoch milliseconds") from None


def hubspot_events(events: object, mapping: CrmMapping) -> list[LeadRecord]:
    """HubSpot's batched `contact.creation` / `contact.propertyChange` webhook events → partial
    lead records (later events for the same contact win when they are merged)."""
    if not isinstance(events, list):
        raise RowError("body", "must be a JSON array of HubSpot events")
    records, problems = [], []
    for index, event in enumerate(events):
        try:
            record = _hubspot_event(event, mapping)
            if record is not None:
                records.append(record)
        except RowError as error:
            problems.append(f"[{index}].{error.column}: {error.reason}")
    if problems:
        raise RowError("body", "; ".join(problems))
    return records


def _hubspot_event(event: object, mapping: CrmMapping) -> LeadRecord | None:
    if not isinstance(event, dict):
        raise RowError("", "must be an object")
    for key in ("objectId", "occurredAt", "subscriptionType"):
        if key not in event:
            raise RowError(key, "is required")
    object_id = str(event["objectId"])
    if not object_id.isdigit():
        raise RowError("objectId", f"{event['objectId']!r} is not a HubSpot record id")
    at = _epoch_ms(event["occurredAt"], "occurredAt")
    kind = event["subscriptionType"]
    record = LeadRecord(object_id)
    if mapping.record_url:
        record.values["crm_url"] = mapping.record_url.replace("{id}", object_id)
    if kind == "contact.creation":
        record.values["created_at"] = at
        return record
    if kind != "contact.propertyChange":
        return None  # other subscriptions (deletions, merges) are not lead facts
    name, value = event.get("propertyName"), event.get("propertyValue")
    if not isinstance(name, str):
        raise RowError("propertyName", "is required for contact.propertyChange")
    text = "" if value is None else str(value).strip()
    values = record.values
    if name == "lifecyclestage" and text:
        stage = _crm_stage(text, mapping, HUBSPOT_STAGES, "propertyValue")
        values["stage"] = stage
        if stage in _LIFECYCLE_FIELD:
            values[_LIFECYCLE_FIELD[stage]] = at
        elif stage in ("won", "lost"):
            values["closed_at"], values["outcome"] = at, stage
    elif name == "hubspot_owner_id" and text:
        values["owner_email"] = _owner(text, mapping, "propertyValue")
        values["assigned_at"] = at
    elif name == "email" and text:
        values["email"] = _email(text, "propertyValue")
    elif name == "company":
        values["company"] = _text(text, "propertyValue") or None
    elif name == "hubspotscore" and text:
        values["score"] = _number(text, "propertyValue")
    elif name == "hs_analytics_source" and text:
        values["source"] = mapping.sources.get(text) or _slug(text)
    elif name in _TOUCH_PROPERTIES and text:
        touched = _epoch_ms(text, "propertyValue") if text.isdigit() else at
        record.touches.append(TouchRecord(object_id, touched, "other", ""))
    else:
        return None
    return LeadRecord(object_id, {k: v for k, v in values.items() if v is not None}, record.touches)
