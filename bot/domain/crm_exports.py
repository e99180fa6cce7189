"""HubSpot and Salesforce exports → lead records (pure: no I/O).

Each CRM format says how to recognise its header, where each field is (labels differ between a
report, a Data Loader extract and an API CSV, and portals rename them), and how a row maps.
A value slabot cannot map (an owner, a custom stage, a status) never costs the lead: the row is
kept with that value left out, and the value is reported with the setting that maps it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from bot.domain.dates import DateOrder
from bot.domain.ingest import (
    LeadRecord,
    RowError,
    TouchRecord,
    _email,
    _finish,
    _number,
    _slug,
    _text,
    canonical_stage,
    fingerprint,
    is_stage,
    parse_timestamp,
)
from bot.domain.owners import OwnerDirectory, salesforce_id18


@dataclass(frozen=True)
class StatusRule:
    """What a CRM status tells: the stage it means (None: no stage), whether it was contacted."""

    stage: str | None = None
    contacted: bool = False


SALESFORCE_STATUSES = {  # the standard Lead Status picklist, folded (see fold_key)
    "open_-_not_contacted": StatusRule("mql"),
    "working_-_contacted": StatusRule("sal", contacted=True),
    "closed_-_converted": StatusRule("sql", contacted=True),
    "closed_-_not_converted": StatusRule("recycled", contacted=True),
}
HUBSPOT_LEAD_STATUSES = {  # hs_lead_status's standard values (export labels fold onto these)
    "new": StatusRule(),
    "open": StatusRule(),
    "in_progress": StatusRule(contacted=True),
    "open_deal": StatusRule(contacted=True),
    "unqualified": StatusRule("recycled", contacted=True),
    "attempted_to_contact": StatusRule(contacted=True),
    "connected": StatusRule(contacted=True),
    "bad_timing": StatusRule("recycled", contacted=True),
}
HUBSPOT_STAGES = {
    "subscriber": "lead", "lead": "lead", "marketingqualifiedlead": "mql",
    "salesqualifiedlead": "sql", "opportunity": "opportunity", "customer": "won",
    "evangelist": "won", "other": "lead",
}  # fmt: skip
# hs_analytics_source: the API's values and the export's labels are one vocabulary (the label's)
HUBSPOT_SOURCES = {
    "organic_search": "organic_search", "paid_search": "paid_search",
    "email_marketing": "email_marketing", "social_media": "organic_social",
    "organic_social": "organic_social", "referrals": "referrals",
    "other_campaigns": "other_campaigns", "direct_traffic": "direct_traffic",
    "offline": "offline_sources", "offline_sources": "offline_sources",
    "paid_social": "paid_social", "ai_referrals": "ai_referrals",
}  # fmt: skip


@functools.lru_cache(maxsize=4096)  # stage and status values: a CRM has a few dozen
def fold_key(text: str) -> str:
    """`Attempted to Contact`, `ATTEMPTED_TO_CONTACT` → `attempted_to_contact`."""
    return "_".join(text.strip().lower().replace("_", " ").split())


@dataclass(frozen=True)
class CrmMapping:
    """How one CRM's files map onto slabot; every part can be set in `[crm.<name>]`."""

    crm: str  # hubspot | salesforce
    columns: Mapping[str, str] = field(default_factory=dict)  # canonical label → portal's label
    stages: Mapping[str, str] = field(default_factory=dict)  # CRM value → slabot stage
    sources: Mapping[str, str] = field(default_factory=dict)  # CRM value → slabot source
    statuses: Mapping[str, StatusRule] = field(default_factory=dict)  # folded status → rule
    owners: OwnerDirectory = field(default_factory=OwnerDirectory)
    record_url: str | None = None  # link to a record, with an {id} placeholder
    date_order: DateOrder | None = None

    def stage(self, raw: str) -> str | None:
        """The slabot stage of a CRM stage value; None if it is unknown."""
        if raw in self.stages:
            return canonical_stage(self.stages[raw])
        known = (
            HUBSPOT_STAGES.get(fold_key(raw).replace("_", "")) if self.crm == "hubspot" else None
        )
        return known or (canonical_stage(raw) if is_stage(raw) else None)

    def status(self, raw: str) -> StatusRule | None:
        key = fold_key(raw)
        defaults = SALESFORCE_STATUSES if self.crm == "salesforce" else HUBSPOT_LEAD_STATUSES
        return self.statuses.get(key) or defaults.get(key)

    def source(self, raw: str) -> str:
        if raw in self.sources:
            return self.sources[raw]
        slug = _slug(raw)
        return HUBSPOT_SOURCES.get(slug, slug) if self.crm == "hubspot" else slug


# canonical label → the labels it has in exports (the current export label first)
HUBSPOT_FIELDS: dict[str, tuple[str, ...]] = {
    "Record ID": ("Record ID", "Contact ID", "hs_object_id"),
    "First Name": ("First Name", "firstname"),
    "Last Name": ("Last Name", "lastname"),
    "Email": ("Email", "email"),
    "Company Name": ("Company Name", "company"),
    "Lifecycle Stage": ("Lifecycle Stage", "lifecyclestage"),
    "Lead Status": ("Lead Status", "hs_lead_status"),
    "Contact owner": ("Contact owner", "Contact Owner", "hubspot_owner_id"),
    "Create Date": ("Create Date", "createdate"),
    "Became a Marketing Qualified Lead Date": (
        "Became a Marketing Qualified Lead Date",
        "hs_lifecyclestage_marketingqualifiedlead_date",
    ),
    "Became a Sales Qualified Lead Date": (
        "Became a Sales Qualified Lead Date",
        "hs_lifecyclestage_salesqualifiedlead_date",
    ),
    "Became an Opportunity Date": (
        "Became an Opportunity Date",
        "hs_lifecyclestage_opportunity_date",
    ),
    "Became a Customer Date": ("Became a Customer Date", "hs_lifecyclestage_customer_date"),
    "Owner Assigned Date": ("Owner Assigned Date", "hubspot_owner_assigneddate"),
    "Original Source": ("Original Source", "Original Source Type", "hs_analytics_source"),
    "HubSpot Score": ("HubSpot Score", "hubspotscore"),
    "Last Contacted": ("Last Contacted", "notes_last_contacted"),
    "Last Modified Date": ("Last Modified Date", "lastmodifieddate"),
}
SALESFORCE_FIELDS: dict[str, tuple[str, ...]] = {
    "Lead ID": ("Lead ID", "Id"),
    "First Name": ("First Name", "FirstName"),
    "Last Name": ("Last Name", "LastName"),
    "Name": ("Name", "Full Name"),
    "Company / Account": ("Company / Account", "Company"),
    "Email": ("Email",),
    "Lead Source": ("Lead Source", "LeadSource"),
    "Lead Owner": ("Lead Owner", "Owner.Name", "Owner Name", "OwnerId", "Owner ID"),
    "Owner Email": ("Owner Email", "Owner.Email"),
    "Lead Status": ("Lead Status", "Status"),
    "Create Date": ("Create Date", "Created Date", "CreatedDate"),
    "Converted Date": ("Converted Date", "ConvertedDate"),
    "Last Activity": ("Last Activity", "LastActivityDate"),
    "Last Modified Date": ("Last Modified Date", "LastModifiedDate", "SystemModstamp"),
    "MQL Date": (),  # only where the agreement's [crm.salesforce.columns] names one
}
FIELDS = {"hubspot": HUBSPOT_FIELDS, "salesforce": SALESFORCE_FIELDS}
ID_FIELD = {"hubspot": "Record ID", "salesforce": "Lead ID"}
_SALESFORCE_API_HINTS = {"ownerid", "status", "createddate", "leadsource", "company", "isconverted"}


def resolve_columns(header: Sequence[str], mapping: CrmMapping) -> dict[str, int]:
    """canonical label → its position in this file's header (labels match in any case)."""
    positions = {name.strip().lower(): index for index, name in enumerate(header)}
    found = {}
    for canonical, labels in FIELDS[mapping.crm].items():
        configured = mapping.columns.get(canonical)
        for label in (configured,) if configured else labels:
            if label.lower() in positions:
                found[canonical] = positions[label.lower()]
                break
    return found


def detect_format(header: Sequence[str], mappings: Mapping[str, CrmMapping]) -> str | None:
    """native | touches | hubspot | salesforce, from the header row; None if unrecognised."""
    names = {name.strip().lower() for name in header}
    if "lead_id" in names:
        return "touches" if "touched_at" in names else "native"
    if ID_FIELD["hubspot"] in resolve_columns(header, mappings["hubspot"]):
        return "hubspot"
    salesforce = resolve_columns(header, mappings["salesforce"])
    if "Lead ID" in salesforce and ("lead id" in names or names & _SALESFORCE_API_HINTS):
        return "salesforce"
    return None


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


def is_report_line(cells: Sequence[str], width: int) -> bool:
    """A report's title, totals, copyright, confidentiality, "Generated By" and company lines:
    a single cell where every record has `width` (Salesforce's formatted report export)."""
    return width > 1 and (len(cells) == 1 or not any(cell.strip() for cell in cells[1:]))


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


def _drop_blanks(record: LeadRecord) -> LeadRecord:
    record.values = {key: value for key, value in record.values.items() if value is not None}
    return _finish(record)


def hubspot_lead(cells: Sequence[str], ctx: ExportContext) -> LeadRecord:
    """A row of a HubSpot contacts export (any width: only the fields slabot uses are read)."""
    mapping = ctx.mapping
    record_id = ctx.get(cells, "Record ID")
    if not record_id:
        raise RowError(ctx.label("Record ID"), "is required")
    record = LeadRecord(record_id)
    values = record.values
    values["name"] = _name(cells, ctx)
    if email := ctx.get(cells, "Email"):
        values["email"] = _email(email, ctx.label("Email"))
    values["company"] = _text(ctx.get(cells, "Company Name"), ctx.label("Company Name")) or None
    lifecycle = None
    if stage := ctx.get(cells, "Lifecycle Stage"):
        lifecycle = mapping.stage(stage)
        if lifecycle is None:
            record.unmapped.append(("stage", stage))
        values["stage"] = lifecycle
    _owner(ctx.get(cells, "Contact owner"), record, ctx, "Contact owner")
    values["created_at"] = ctx.time(cells, "Create Date")
    values["mql_at"] = ctx.time(cells, "Became a Marketing Qualified Lead Date")
    values["sql_at"] = ctx.time(cells, "Became a Sales Qualified Lead Date")
    values["opportunity_at"] = ctx.time(cells, "Became an Opportunity Date")
    if (won := ctx.time(cells, "Became a Customer Date")) is not None:
        values["closed_at"], values["outcome"] = won, "won"
    values["assigned_at"] = ctx.time(cells, "Owner Assigned Date")
    if source := ctx.get(cells, "Original Source"):
        values["source"] = mapping.source(source)
    if score := ctx.get(cells, "HubSpot Score"):
        values["score"] = _number(score, ctx.label("HubSpot Score"))
    evidence = ctx.time(cells, "Last Modified Date") or ctx.now
    rule = None
    if status := ctx.get(cells, "Lead Status"):
        rule = mapping.status(status)
        if rule is None:
            record.unmapped.append(("lead_status", status))
        elif rule.stage == "recycled" and lifecycle in (None, "lead", "mql", "sal"):
            values["stage"] = "recycled"
            values["recycled_at"] = evidence
            values["recycle_reason"] = status
        elif rule.stage and lifecycle is None:
            values["stage"] = canonical_stage(rule.stage)
    _contact_evidence(record, rule, ctx.time(cells, "Last Contacted"), evidence)
    _link(record, mapping)
    return _drop_blanks(record)


def salesforce_lead(cells: Sequence[str], ctx: ExportContext) -> LeadRecord:
    """A Salesforce lead from a report, a Data Loader extract or a Bulk API / `sf` CSV. A lead
    is the hand-off, so its create date is its MQL date unless the agreement names an MQL
    Date column. Ids are stored in their 18-character form."""
    mapping = ctx.mapping
    lead_id = ctx.get(cells, "Lead ID")
    if not lead_id:
        raise RowError(ctx.label("Lead ID"), "is required")
    record = LeadRecord(salesforce_id18(lead_id))
    values = record.values
    values["name"] = _name(cells, ctx)
    if email := ctx.get(cells, "Email"):
        values["email"] = _email(email, ctx.label("Email"))
    values["company"] = (
        _text(ctx.get(cells, "Company / Account"), ctx.label("Company / Account")) or None
    )
    if source := ctx.get(cells, "Lead Source"):
        values["source"] = mapping.source(source)
    owner_email = ctx.get(cells, "Owner Email")
    _owner(
        owner_email or ctx.get(cells, "Lead Owner"),
        record,
        ctx,
        "Owner Email" if owner_email else "Lead Owner",
    )
    created = ctx.time(cells, "Create Date")
    values["created_at"] = created
    values["mql_at"] = ctx.time(cells, "MQL Date") if "MQL Date" in ctx.columns else created
    activity = ctx.time(cells, "Last Activity")
    evidence = activity or ctx.time(cells, "Last Modified Date") or ctx.now
    values["sql_at"] = ctx.time(cells, "Converted Date")
    rule = None
    if status := ctx.get(cells, "Lead Status"):
        rule = mapping.status(status)
        if rule is None:
            record.unmapped.append(("status", status))
        elif rule.stage:
            stage = canonical_stage(rule.stage)
            values["stage"] = stage
            if stage == "recycled":
                values["recycle_reason"] = status
                values["recycled_at"] = evidence
            elif stage == "sql" and values["sql_at"] is None:
                values["sql_at"] = evidence  # converted, undated: counted at the best evidence
    _contact_evidence(record, rule, activity, evidence)
    _link(record, mapping)
    return _drop_blanks(record)


MAPPERS = {"hubspot": hubspot_lead, "salesforce": salesforce_lead}
