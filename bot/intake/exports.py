"""CRM exports → lead records (pure: no I/O): what every CRM's file format shares.

Each CRM's format (its folder's `export.py`) says how to recognise its header, where each
field is (labels differ between a report, a Data Loader extract and an API CSV, and portals
rename them), and how a row maps. A value slabot cannot map (an owner, a custom stage, a
status) never costs the lead: the row is kept with that value left out, and the value is
reported with the setting that maps it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from bot.domain.leads import (
    STAGE_OF_FIELD,
    LeadRecord,
    RowError,
    TouchRecord,
    fingerprint,
    finish,
    stage_of,
)
from bot.intake.dates import DateOrder
from bot.intake.owners import OwnerDirectory, owner_line
from bot.intake.values import parse_timestamp, read_text, slug


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


SEGMENT = "Segment"  # the canonical label of the field `[crm.<name>] segment_field` names
SYNCED = "*"  # crm_times key: every property as of the record's last synced modification


def fix_line(crm: CrmFormat | None, what: str, value: str) -> str:
    """The agreement line that maps a value nobody mapped (`crm` None: slabot's own format)."""
    name = crm.name if crm else "native"
    quoted = value.replace('"', '\\"')
    if what == "owner":
        owner_id = crm.owner_id(value) if crm else None
        rep_id = f'{crm.rep_id_key} = "{owner_id}"' if crm and owner_id and crm.rep_id_key else None
        return owner_line(name, value, rep_id)
    if what == "stage":
        return f'[crm.{name}.stages] "{quoted}" = "mql"'
    if what == "segment":
        return f'[crm.{name}.segments] "{quoted}" = "<one of [funnel.segments]>"'
    value_text, meaning = STATUS_CHOICES[suggested_status(value)]
    setting = crm.statuses_key if crm else "statuses"
    return f'[crm.{name}.{setting}] "{quoted}" = {value_text}  # {meaning}'


def status_choices() -> list[str]:
    """Each way a status can be mapped, and what it does."""
    return [f"{value_text}: {meaning}" for value_text, meaning in STATUS_CHOICES.values()]


@functools.lru_cache(maxsize=4096)  # stage and status values: a CRM has a few dozen
def fold_key(text: str) -> str:
    """`Attempted to Contact`, `ATTEMPTED_TO_CONTACT` → `attempted_to_contact`."""
    return "_".join(text.strip().lower().replace("_", " ").split())


def no_lines_of_its_own(cells: Sequence[str], width: int) -> bool:
    """An export whose every line is a record or blank (a report adds lines of its own)."""
    return False


def no_owner_id(raw: str) -> str | None:
    """A CRM whose exports name owners only by name or email."""
    return None


@dataclass(frozen=True)
class CrmFormat:
    """One CRM's export format: how to recognise it, read it, and what its values mean. Its
    functions are module-level, so a format pickles for a reader process as it is."""

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
    # a CRM whose events carry a time per property: the lead's fields each property sets, so
    # that a snapshot older than an event keeps the event's values (`newer_kept`)
    property_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    statuses_key: str = "statuses"  # where `[crm.<name>]` maps its lead statuses
    rep_id_key: str | None = None  # the rep's agreement key for their id in this CRM
    owner_id: Callable[[str], str | None] = no_owner_id  # an owner cell → its id, if one
    # `slabot init --crm`: an MQL split over its standard sources (TOML lines, as slabot
    # stores the values), and the source the starter's per-source funnel overrides
    starter_split: str = ""
    starter_override: str = ""
    # (cells, the header's width) → a line of the export's own (a report's title, its footer)
    skips_line: Callable[[Sequence[str], int], bool] = no_lines_of_its_own

    def handoff_columns(self) -> str:
        """The columns that date the hand-off, as an export and the API name them."""
        return " or ".join(" / ".join(self.fields[label][:2]) for label in self.handoff)


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
    segment_field: str | None = None  # the CRM field holding the segment (its API name)
    segments: Mapping[str, str] = field(default_factory=dict)  # CRM value → segment
    known_segments: frozenset[str] = frozenset()  # the agreement's `[funnel.segments]`

    @property
    def crm(self) -> str:
        return self.format.name

    def labels(self, canonical: str) -> tuple[str, ...]:
        """The labels a field may have in this CRM's files: the agreement's, else the
        format's; the segment's field by its API name too."""
        configured = self.columns.get(canonical)
        if canonical == SEGMENT:
            return tuple(label for label in (configured, self.segment_field) if label)
        return (configured,) if configured else self.format.fields[canonical]

    def segment(self, raw: str) -> str | None:
        """The segment a CRM value means: as `[crm.<name>.segments]` maps it, else a
        segment's own name in any case; None if neither."""
        if raw in self.segments:
            return self.segments[raw]
        key = slug(raw)
        return next((name for name in sorted(self.known_segments) if slug(name) == key), None)

    def property_fields(self) -> Mapping[str, tuple[str, ...]]:
        """The lead's fields each CRM property sets (the format's, and the segment's field)."""
        if not self.format.property_fields or not self.segment_field:
            return self.format.property_fields
        return {**self.format.property_fields, self.segment_field: ("segment",)}

    def stage(self, raw: str) -> str | None:
        """The slabot stage of a CRM stage value; None if it is unknown."""
        if raw in self.stages:
            return stage_of(self.stages[raw])
        known = self.format.stages.get(fold_key(raw).replace("_", ""))
        return known or stage_of(raw)

    def status(self, raw: str) -> StatusRule | None:
        key = fold_key(raw)
        return self.statuses.get(key) or self.format.statuses.get(key)

    def source(self, raw: str) -> str:
        if raw in self.sources:
            return self.sources[raw]
        key = slug(raw)
        return self.format.sources.get(key, key)


def resolve_columns(header: Sequence[str], mapping: CrmMapping) -> dict[str, int]:
    """canonical label → its position in this file's header (labels match in any case)."""
    positions = {name.strip().lower(): index for index, name in enumerate(header)}
    found = {}
    for canonical in (*mapping.format.fields, SEGMENT):
        for label in mapping.labels(canonical):
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
            repr((mapping.segment_field, sorted(mapping.segments.items()))),
            repr(sorted(mapping.known_segments)),
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


def full_name(cells: Sequence[str], ctx: ExportContext) -> str | None:
    """The lead's name: first and last, else the export's one name column."""
    first, last = ctx.get(cells, "First Name"), ctx.get(cells, "Last Name")
    full = " ".join(part for part in (first, last) if part) or ctx.get(cells, "Name")
    return read_text(full, ctx.label("Last Name" if last else "Name")) or None


def set_owner(raw: str, record: LeadRecord, ctx: ExportContext, column: str) -> None:
    """The CRM's owner as written, and the rep it resolves to; an owner nobody matches is
    kept on the record as unmapped (the lead stays, unowned)."""
    if not raw:
        return
    record.values["crm_owner"] = read_text(raw, ctx.label(column))
    email = ctx.mapping.owners.resolve(raw)
    if email is None:
        record.unmapped.append(("owner", raw))
    else:
        record.values["owner_email"] = email


def set_segment(raw: str, record: LeadRecord, mapping: CrmMapping) -> None:
    """The lead's segment from the CRM's segment field. A value no segment matches is kept
    as it is (slugged: the lead counts in "other segments" until the agreement maps it) and
    reported as unmapped."""
    if not raw:
        return
    segment = mapping.segment(raw)
    if segment is None:
        record.unmapped.append(("segment", raw))
    record.values["segment"] = segment or slug(raw)


def add_contact_evidence(
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


def link_record(record: LeadRecord, mapping: CrmMapping) -> None:
    """The record's link in the CRM, where the agreement gives `record_url`."""
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


def finished(record: LeadRecord) -> LeadRecord:
    """The record as stored: values not given left out, dates and stage completed."""
    record.values = {key: value for key, value in record.values.items() if value is not None}
    return finish(record)


def newer_kept(
    record: LeadRecord, stored: Mapping[str, int], fields_of: Mapping[str, tuple[str, ...]]
) -> LeadRecord | None:
    """A record's snapshot (a sync's page, an export's row) against the property times stored
    for it (`stored`, epoch ms; `fields_of`: the lead's fields each property sets): None if a
    newer snapshot is stored; else the record without the values an event newer than the
    snapshot set, and with the stored times it does not supersede. An older value never
    overwrites a newer one, whichever way each came."""
    times = record.values.get("crm_times")
    taken = times.get(SYNCED) if isinstance(times, dict) else None
    if taken is None or not stored:
        return record
    if stored.get(SYNCED, -1) > taken:
        return None
    newer = {name: at for name, at in stored.items() if name != SYNCED and at > taken}
    for name in newer:
        for column in fields_of.get(name, ()):
            record.values.pop(column, None)
    record.values["crm_times"] = {**newer, SYNCED: taken}
    return record
