"""Canonical lead and touch records, and slabot's native format (pure: no I/O).

CRM exports (`crm_exports`) and HubSpot's webhook events (`hubspot_events`) map onto the same
records. Each mapper raises :class:`RowError` naming the column and the reason; nothing else
escapes for bad input.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from bot.domain import dates
from bot.domain.dates import DateOrder

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
MAX_TEXT = 500  # every text a CRM gives is stored within this
MAX_URL = 1000  # a record link: Slack's button URLs take 3,000


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL, and a surrogate with no pair


def clean(value: object) -> object:
    """A payload as it may be stored: in every string, NUL dropped and a lone surrogate (JSON
    may escape one, `"\\ud800"`) made U+FFFD. No database stores either."""
    if isinstance(value, str):
        if _UNSTORABLE.search(value) is None:
            return value
        return _UNSTORABLE.sub(lambda found: "" if found.group() == "\x00" else "\ufffd", value)
    if isinstance(value, list):
        return [clean(item) for item in value]
    if isinstance(value, dict):
        return {clean(key): clean(item) for key, item in value.items()}
    return value


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
    unmapped: list[tuple[str, str]] = field(default_factory=list)  # (what, value) kept as is

    def __reduce__(self) -> tuple:
        """Pickled as its fields (a reader process hands over a page of them): half the time
        of the default, which sets each one by its name."""
        return (LeadRecord, tuple(getattr(self, name) for name in _FIELDS[LeadRecord]))

    def digest(self) -> str:
        """A fingerprint of what the record says: re-importing an unchanged row is a no-op."""
        if self.fingerprint is not None:
            return self.fingerprint
        text = "\x1f".join([f"{key}={value!s}" for key, value in sorted(self.values.items())])
        # a touch is news too (a call logged on an otherwise unchanged CRM record)
        text += "".join(f"\x1e{t.touched_at.isoformat()}|{t.kind}" for t in self.touches)
        return fingerprint(text)


def fingerprint(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True)
class TouchRecord:
    lead_external_id: str
    touched_at: datetime
    kind: str = "other"
    rep_email: str = ""

    def __reduce__(self) -> tuple:
        return (TouchRecord, tuple(getattr(self, name) for name in _FIELDS[TouchRecord]))


_FIELDS = {  # each record's fields, in its constructor's order
    kind: tuple(each.name for each in dataclasses.fields(kind))
    for kind in (LeadRecord, TouchRecord)
}


def parse_timestamp(
    text: str, tz: tzinfo, *, column: str, order: DateOrder | None = None
) -> datetime:
    """ISO 8601 or a CRM's numeric date (`11/20/2026, 2:03 PM`, `20.11.2026 14:03`) in the
    file's date order; naive times are in `tz`. → UTC."""
    try:
        return dates.parse_timestamp(text, tz, order)
    except dates.DateError as error:
        raise RowError(column, str(error)) from None


def _email(text: str, column: str) -> str:
    value = text.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise RowError(column, f"{text.strip()[:60]!r} is not an email address")
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


def is_stage(text: str) -> bool:
    key = text.strip().lower().replace("_", " ")
    return key in STAGE_ALIASES or key.replace(" ", "") in STAGE_ALIASES


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


def undated(values: Mapping[str, object]) -> bool:
    """A lead (past plain "lead") with no hand-off time, neither MQL nor owner-assigned: no SLA
    clock can start for it, and it counts as no period's MQL."""
    return (
        values.get("mql_at") is None
        and values.get("assigned_at") is None
        and values.get("closed_at") is None
        and values.get("stage") != "lead"
    )


def _outcome(text: str, column: str) -> str:
    outcome = text.strip().lower()
    if outcome not in ("won", "lost"):
        raise RowError(column, f"{text.strip()!r} is not won or lost")
    return outcome


Converter = Callable[[str, str, tzinfo, "DateOrder | None"], object]


def _native_converters() -> dict[str, Converter]:
    """How each native column's text becomes a value."""
    by_kind: dict[str, Converter] = {
        "time": lambda raw, column, tz, order: parse_timestamp(raw, tz, column=column, order=order),
        "email": lambda raw, column, _tz, _order: _email(raw, column),
        "number": lambda raw, column, _tz, _order: _number(raw, column),
        "stage": lambda raw, column, _tz, _order: canonical_stage(raw, column),
        "outcome": lambda raw, column, _tz, _order: _outcome(raw, column),
        "source": lambda raw, _column, _tz, _order: _slug(raw),
        "text": lambda raw, column, _tz, _order: _text(raw, column),
    }
    kinds = {"email": "email", "owner_email": "email", "score": "number", "amount": "number"}
    kinds |= {"stage": "stage", "outcome": "outcome", "source": "source"}
    return {
        column: by_kind["time" if column in TIME_FIELDS else kinds.get(column, "text")]
        for column in LEAD_FIELDS[1:]
    }


_NATIVE_CONVERTERS = _native_converters()


def native_lead(row: Mapping[str, str], tz: tzinfo, order: DateOrder | None = None) -> LeadRecord:
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
            values[column] = convert(raw, column, tz, order)
    url = (row.get("crm_url") or "").strip()  # optional: where the record lives in the CRM
    if url:
        if not re.match(r"^https?://\S+$", url):
            raise RowError("crm_url", f"{url[:60]!r} is not an http(s) link")
        if len(url) > MAX_URL:
            raise RowError("crm_url", f"longer than {MAX_URL} characters")
        values["crm_url"] = url
    return _finish(LeadRecord(lead_id, values))


def native_touch(row: Mapping[str, str], tz: tzinfo, order: DateOrder | None = None) -> TouchRecord:
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
        parse_timestamp(raw_time, tz, column="touched_at", order=order),
        kind,
        _email(rep, "rep_email") if rep else "",
    )


# -- webhooks ------------------------------------------------------------------------------------


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
    leads: list[LeadRecord] = []
    touches: list[TouchRecord] = []
    problems = []
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
                record = mapper(row, tz)
                if isinstance(record, LeadRecord):
                    leads.append(record)
                else:
                    touches.append(record)
            except RowError as error:
                column = f".{error.column}" if error.column else ""
                problems.append(f"{where}{column}: {error.reason}")
    if problems:
        raise RowError("body", "; ".join(problems))
    return leads, touches
