"""slabot's native format: a leads CSV, a touches CSV and the native webhook's JSON, with the
field names of `bot.domain.leads` (pure: no I/O)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo

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
from bot.intake.dates import DateError, DateOrder, read_timestamp
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

Reader = Callable[[str, str], object]  # (a filled cell, its column) → its value


class _Times:
    """A file's timestamps, each text read once: exports repeat them (dates, whole minutes)."""

    def __init__(self, tz: tzinfo, order: DateOrder | None) -> None:
        self.tz, self.order = tz, order
        self.seen: dict[str, datetime] = {}

    def read(self, raw: str, column: str) -> datetime:
        value = self.seen.get(raw)
        if value is None:
            if len(self.seen) >= 1 << 17:
                self.seen.clear()
            try:
                value = read_timestamp(raw.strip(), self.tz, self.order)
            except DateError as error:
                raise RowError(column, str(error)) from None
            self.seen[raw] = value
        return value


def _source(raw: str, _column: str) -> str:
    return slug(raw)


_READERS: dict[str, Reader] = {"email": read_email, "owner_email": read_email}
_READERS |= {"score": read_number, "amount": read_number, "stage": canonical_stage}
_READERS |= {"outcome": read_outcome, "source": _source}


class NativeLeads:
    """Reads the rows of one native leads file: where each column is, and how its text
    becomes a value, are worked out once from the header (a million rows cost a call per
    filled cell, nothing per row beyond). Only `lead_id` is required."""

    def __init__(self, header: Sequence[str], tz: tzinfo, order: DateOrder | None = None) -> None:
        place = {name: index for index, name in enumerate(header)}
        self._id, self._url = place.get("lead_id"), place.get("crm_url")
        read_time = _Times(tz, order).read
        self._cells = [
            (
                place[column],
                column,
                read_time if column in TIME_FIELDS else _READERS.get(column, read_text),
            )
            for column in LEAD_FIELDS[1:]
            if column in place
        ]

    def __call__(self, cells: Sequence[str]) -> LeadRecord:
        lead_id = "" if self._id is None else cells[self._id].strip()
        if not lead_id:
            raise RowError("lead_id", "is required")
        if len(lead_id) > 255:
            raise RowError("lead_id", "longer than 255 characters")
        values: dict[str, object] = {}
        for index, column, read in self._cells:
            raw = cells[index]
            if raw and not raw.isspace():
                values[column] = read(raw, column)
        url = "" if self._url is None else cells[self._url].strip()
        if url:  # optional: where the record lives in the CRM
            if not _URL.match(url):
                raise RowError("crm_url", f"{url[:60]!r} is not an http(s) link")
            if len(url) > MAX_URL:
                raise RowError("crm_url", f"longer than {MAX_URL} characters")
            values["crm_url"] = url
        return finish(LeadRecord(lead_id, values))


_URL = re.compile(r"^https?://\S+$")


def native_lead(row: Mapping[str, str], tz: tzinfo, order: DateOrder | None = None) -> LeadRecord:
    """One native lead given by its fields' names (a webhook's item)."""
    return NativeLeads(list(row), tz, order)(list(row.values()))


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
