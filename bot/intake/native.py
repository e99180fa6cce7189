"""slabot's native format: a leads CSV, a touches CSV and the native webhook's JSON, with the
field names of `bot.domain.leads` (pure: no I/O)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import tzinfo

from bot.domain.leads import (
    LEAD_FIELDS,
    TIME_FIELDS,
    TOUCH_FIELDS,
    TOUCH_KINDS,
    LeadRecord,
    RowError,
    TouchRecord,
    finish,
)
from bot.intake.dates import DateOrder
from bot.intake.values import (
    MAX_URL,
    canonical_stage,
    parse_timestamp,
    read_email,
    read_number,
    read_outcome,
    read_text,
    slug,
)

Converter = Callable[[str, str, tzinfo, "DateOrder | None"], object]


def _native_converters() -> dict[str, Converter]:
    """How each native column's text becomes a value."""
    by_kind: dict[str, Converter] = {
        "time": lambda raw, column, tz, order: parse_timestamp(raw, tz, column=column, order=order),
        "email": lambda raw, column, _tz, _order: read_email(raw, column),
        "number": lambda raw, column, _tz, _order: read_number(raw, column),
        "stage": lambda raw, column, _tz, _order: canonical_stage(raw, column),
        "outcome": lambda raw, column, _tz, _order: read_outcome(raw, column),
        "source": lambda raw, _column, _tz, _order: slug(raw),
        "text": lambda raw, column, _tz, _order: read_text(raw, column),
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
    return finish(LeadRecord(lead_id, values))


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
        read_email(rep, "rep_email") if rep else "",
    )


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
