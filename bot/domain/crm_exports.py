"""CRM exports → lead records (pure: no I/O): what every CRM format shares.

Each CRM format (`bot.domain.crm_formats`) says how to recognise its header, where each field
is (labels differ between a report, a Data Loader extract and an API CSV, and portals rename
them), and how a row maps. A value slabot cannot map (an owner, a custom stage, a status) never
costs the lead: the row is kept with that value left out, and the value is reported with the
setting that maps it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from bot.domain.dates import DateOrder
from bot.domain.ingest import (
    STAGE_OF_FIELD,
    LeadRecord,
    RowError,
    TouchRecord,
    _finish,
    _slug,
    _text,
    canonical_stage,
    fingerprint,
    is_stage,
    parse_timestamp,
)
from bot.domain.owners import OwnerDirectory


@dataclass(frozen=True)
class StatusRule:
    """What a CRM status tells: the stage it means (None: no stage), whether it was contacted."""

    stage: str | None = None
    contacted: bool = False


# how a CRM status can be mapped (`[crm.<name>.statuses]`): its TOML value and what it does
STATUS_CHOICES = {
    "mql": ('"mql"', "not contacted yet: the first-touch clock keeps running"),
    "contacted": ('"contacted"', "a rep reached the lead: a touch, the stage unchanged"),
    "sal": ('{ stage = "sal", contacted = true }', "accepted by sales after a touch"),
    "sql": ('{ stage = "sql", contacted = true }', "qualified or converted by sales: an SQL"),
    "recycled": (
        '{ stage = "recycled", contacted = true }',
        "worked, then handed back to marketing: recycled",
    ),
}
_STATUS_WORDS = (  # the first that a status's name holds decides the suggestion
    (r"un-?qualified|disqualified|not[ _-]+converted|nurtur|recycl|junk|not[ _-]+interested"
     r"|bad[ _-]+(fit|timing|data)|\blost\b|unworkable", "recycled"),
    (r"attempt", "contacted"),  # "attempted to contact": a rep tried
    (r"not[ _-]+(yet[ _-]+)?contacted|\bnew\b|\bopen\b|untouched|unworked|to[ _-]+contact",
     "mql"),
    (r"convert|qualified|\bsql\b|opportunit", "sql"),
    (r"accept|\bsal\b", "sal"),
    (r"contact|working|connect|progress|follow|reached|meeting|engaged|call",
     "contacted"),
)  # fmt: skip


def suggested_status(value: str) -> str:
    """The `STATUS_CHOICES` key a status's own name supports; "mql" (no touch assumed: a
    false "contacted" would silence the first-touch alert) when its name says nothing."""
    text = value.lower()
    for pattern, choice in _STATUS_WORDS:
        if re.search(pattern, text):
            return choice
    return "mql"


@functools.lru_cache(maxsize=4096)  # stage and status values: a CRM has a few dozen
def fold_key(text: str) -> str:
    """`Attempted to Contact`, `ATTEMPTED_TO_CONTACT` → `attempted_to_contact`."""
    return "_".join(text.strip().lower().replace("_", " ").split())


@dataclass(frozen=True)
class CrmFormat:
    """One CRM's export format: how to recognise it, read it, and what its values mean."""

    name: str  # its [crm.<name>] section in the agreement, its leads' source_system
    fields: Mapping[str, tuple[str, ...]]  # canonical label → its labels (the current first)
    id_field: str  # the canonical label of the record id
    map_row: Callable[[Sequence[str], ExportContext], LeadRecord]
    recognises: Callable[[set[str], dict[str, int]], bool]  # (header names, resolved columns)
    stages: Mapping[str, str] = field(default_factory=dict)  # folded, no "_" → slabot stage
    statuses: Mapping[str, StatusRule] = field(default_factory=dict)  # folded status → rule
    sources: Mapping[str, str] = field(default_factory=dict)  # slugged source → slabot source
    normalise_id: Callable[[str], str] = str.strip  # the id as stored
    handoff: tuple[str, ...] = ()  # the canonical labels that date a lead's hand-off
    # (cells, the header's width) → a line of the export's own (a report's title, its footer)
    skips_line: Callable[[Sequence[str], int], bool] = lambda _cells, _width: False

    def handoff_columns(self) -> str:
        """The columns that date the hand-off, as an export and the API name them."""
        return " or ".join(" / ".join(self.fields[label][:2]) for label in self.handoff)

    def __reduce__(self) -> tuple:
        """Pickled by name (a reader process maps with it): its functions are code, and every
        format is registered in `bot.domain.crm_formats`."""
        return (_registered_format, (self.name,))


def _registered_format(name: str) -> CrmFormat:
    from bot.domain.crm_formats import FORMATS  # that registry imports this module

    return FORMATS[name]


@dataclass(frozen=True)
class CrmMapping:
    """How one CRM's files map onto slabot; every part can be set in `[crm.<name>]`."""

    format: CrmFormat
    columns: Mapping[str, str] = field(default_factory=dict)  # canonical label → portal's label
    stages: Mapping[str, str] = field(default_factory=dict)  # CRM value → slabot stage
    sources: Mapping[str, str] = field(default_factory=dict)  # CRM value → slabot source
    statuses: Mapping[str, StatusRule] = field(default_factory=dict)  # folded status → rule
    owners: OwnerDirectory = field(default_factory=OwnerDirectory)
    record_url: str | None = None  # link to a record, with an {id} placeholder
    date_order: DateOrder | None = None

    @property
    def crm(self) -> str:
        return self.format.name

    def stage(self, raw: str) -> str | None:
        """The slabot stage of a CRM stage value; None if it is unknown."""
        if raw in self.stages:
            return canonical_stage(self.stages[raw])
        known = self.format.stages.get(fold_key(raw).replace("_", ""))
        return known or (canonical_stage(raw) if is_stage(raw) else None)

    def status(self, raw: str) -> StatusRule | None:
        key = fold_key(raw)
        return self.statuses.get(key) or self.format.statuses.get(key)

    def source(self, raw: str) -> str:
        if raw in self.sources:
            return self.sources[raw]
        slug = _slug(raw)
        return self.format.sources.get(slug, slug)


def resolve_columns(header: Sequence[str], mapping: CrmMapping) -> dict[str, int]:
    """canonical label → its position in this file's header (labels match in any case)."""
    positions = {name.strip().lower(): index for index, name in enumerate(header)}
    found = {}
    for canonical, labels in mapping.format.fields.items():
        configured = mapping.columns.get(canonical)
        for label in (configured,) if configured else labels:
            if label.lower() in positions:
                found[canonical] = positions[label.lower()]
                break
    return found


def mapping_key(mapping: CrmMapping, *more: str) -> str:
    """A fingerprint of everything that decides how a row maps (and of `more`): part of each
    row's fingerprint, so a row seen before under the same mapping is not read again."""
    key = "|".join(
        (
            repr(sorted(mapping.columns.items())),
            repr(sorted(mapping.stages.items())),
            repr(sorted(mapping.sources.items())),
            repr(sorted(mapping.statuses.items())),
            mapping.owners.fingerprint(),
            str(mapping.record_url),
            *more,
        )
    )
    return fingerprint(key)


@dataclass(frozen=True)
class ExportContext:
    """What every row of one file is read with."""

    mapping: CrmMapping
    columns: Mapping[str, int]
    labels: Sequence[str]  # the header, for error messages
    tz: tzinfo
    now: datetime  # the import's time: the last evidence for an undated status
    date_order: DateOrder | None = None

    def get(self, cells: Sequence[str], canonical: str) -> str:
        index = self.columns.get(canonical)
        return cells[index].strip() if index is not None else ""

    def time(self, cells: Sequence[str], canonical: str) -> datetime | None:
        raw = self.get(cells, canonical)
        if not raw:
            return None
        label = self.labels[self.columns[canonical]]
        try:
            return parse_timestamp(raw, self.tz, column=label, order=self.date_order)
        except RowError as error:
            hint = f'set date_order under [crm.{self.mapping.crm}], e.g. date_order = "DMY"'
            reason = error.reason if "date_order" not in error.reason else f"{error.reason}: {hint}"
            raise RowError(label, reason) from None

    def label(self, canonical: str) -> str:
        return self.labels[self.columns[canonical]] if canonical in self.columns else canonical


def _name(cells: Sequence[str], ctx: ExportContext) -> str | None:
    first, last = ctx.get(cells, "First Name"), ctx.get(cells, "Last Name")
    full = " ".join(part for part in (first, last) if part) or ctx.get(cells, "Name")
    return _text(full, ctx.label("Last Name" if last else "Name")) or None


def _owner(raw: str, record: LeadRecord, ctx: ExportContext, column: str) -> None:
    if not raw:
        return
    record.values["crm_owner"] = _text(raw, ctx.label(column))
    email = ctx.mapping.owners.resolve(raw)
    if email is None:
        record.unmapped.append(("owner", raw))
    else:
        record.values["owner_email"] = email


def _contact_evidence(
    record: LeadRecord, rule: StatusRule | None, touched: datetime | None, evidence: datetime
) -> None:
    """A status that says the lead was contacted is a touch: at its own time where the export
    has one, else at the best evidence (the record's last change, else the import), inferred."""
    if touched is not None:
        record.touches.append(TouchRecord(record.external_id, touched, "other", _owner_of(record)))
    elif rule is not None and rule.contacted:
        record.touches.append(
            TouchRecord(record.external_id, evidence, "inferred", _owner_of(record))
        )


def _owner_of(record: LeadRecord) -> str:
    return str(record.values.get("owner_email") or "")


def _link(record: LeadRecord, mapping: CrmMapping) -> None:
    if mapping.record_url:
        record.values["crm_url"] = mapping.record_url.replace("{id}", record.external_id)


def stage_reached(values: dict, stage: str, at: datetime) -> None:
    """A status says sales took the lead to `stage`: at `at` (the best evidence) unless the
    record dates it. Without the time, the accept-or-recycle clock would run on. The hand-off
    (MQL) is never dated this way: its clocks start only from the record's own dates."""
    column = _FIELD_OF_STAGE.get(stage)
    if column is not None and values.get(column) is None:
        values[column] = at


_FIELD_OF_STAGE = {stage: column for column, stage in STAGE_OF_FIELD.items() if stage != "mql"}


def _drop_blanks(record: LeadRecord) -> LeadRecord:
    record.values = {key: value for key, value in record.values.items() if value is not None}
    return _finish(record)
