"""Canonical lead and touch records: what every intake path (a CSV, a webhook, a CRM's API)
produces and storage keeps (pure: no I/O)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

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


def is_stage(text: str) -> bool:
    return stage_of(text) is not None


def stage_of(text: str) -> str | None:
    """The slabot stage a stage's name means (`Closed Won` → `won`), None if none."""
    key = text.strip().lower().replace("_", " ")
    return STAGE_ALIASES.get(key) or STAGE_ALIASES.get(key.replace(" ", ""))


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


def finish(record: LeadRecord) -> LeadRecord:
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
