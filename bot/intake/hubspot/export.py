"""HubSpot's contacts export (and the CRM API's contact records, read with its property names
as the header): its labels, its lifecycle stages, lead statuses and sources, and a row → lead."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.leads import LeadRecord, RowError
from bot.intake.exports import (
    SEGMENT,
    SYNCED,
    CrmFormat,
    ExportContext,
    StatusRule,
    add_contact_evidence,
    finished,
    full_name,
    link_record,
    set_owner,
    set_segment,
    stage_reached,
)
from bot.intake.hubspot.events import PROPERTY_FIELDS
from bot.intake.values import canonical_stage, read_email, read_number, read_text

LEAD_STATUSES = {  # hs_lead_status's standard values (export labels fold onto these)
    "new": StatusRule(),
    "open": StatusRule(),
    "in_progress": StatusRule(contacted=True),
    "open_deal": StatusRule(contacted=True),
    "unqualified": StatusRule("recycled", contacted=True),
    "attempted_to_contact": StatusRule(contacted=True),
    "connected": StatusRule(contacted=True),
    "bad_timing": StatusRule("recycled", contacted=True),
}
STAGES = {
    "subscriber": "lead", "lead": "lead", "marketingqualifiedlead": "mql",
    "salesqualifiedlead": "sql", "opportunity": "opportunity", "customer": "won",
    "evangelist": "won", "other": "lead",
}  # fmt: skip
# hs_analytics_source: the API's values and the export's labels are one vocabulary (the label's)
SOURCES = {
    "organic_search": "organic_search", "paid_search": "paid_search",
    "email_marketing": "email_marketing", "social_media": "organic_social",
    "organic_social": "organic_social", "referrals": "referrals",
    "other_campaigns": "other_campaigns", "direct_traffic": "direct_traffic",
    "offline": "offline_sources", "offline_sources": "offline_sources",
    "paid_social": "paid_social", "ai_referrals": "ai_referrals",
}  # fmt: skip


# canonical label → the labels it has in exports (the current export label first)
FIELDS: dict[str, tuple[str, ...]] = {
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


def hubspot_lead(cells: Sequence[str], ctx: ExportContext) -> LeadRecord:
    """A row of a HubSpot contacts export (any width: only the fields slabot uses are read)."""
    mapping = ctx.mapping
    record_id = ctx.get(cells, "Record ID")
    if not record_id:
        raise RowError(ctx.label("Record ID"), "is required")
    record = LeadRecord(record_id)
    values = record.values
    values["name"] = full_name(cells, ctx)
    if email := ctx.get(cells, "Email"):
        values["email"] = read_email(email, ctx.label("Email"))
    values["company"] = read_text(ctx.get(cells, "Company Name"), ctx.label("Company Name")) or None
    lifecycle = None
    if stage := ctx.get(cells, "Lifecycle Stage"):
        lifecycle = mapping.stage(stage)
        if lifecycle is None:
            record.unmapped.append(("stage", stage))
        values["stage"] = lifecycle
    set_owner(ctx.get(cells, "Contact owner"), record, ctx, "Contact owner")
    values["created_at"] = ctx.time(cells, "Create Date")
    values["mql_at"] = ctx.time(cells, "Became a Marketing Qualified Lead Date")
    values["sql_at"] = ctx.time(cells, "Became a Sales Qualified Lead Date")
    values["opportunity_at"] = ctx.time(cells, "Became an Opportunity Date")
    if (won := ctx.time(cells, "Became a Customer Date")) is not None:
        values["closed_at"], values["outcome"] = won, "won"
    values["assigned_at"] = ctx.time(cells, "Owner Assigned Date")
    if source := ctx.get(cells, "Original Source"):
        values["source"] = mapping.source(source)
    set_segment(ctx.get(cells, SEGMENT), record, mapping)
    if score := ctx.get(cells, "HubSpot Score"):
        values["score"] = read_number(score, ctx.label("HubSpot Score"))
    modified = ctx.time(cells, "Last Modified Date")
    if modified is not None:  # the snapshot's time: no value an event newer than it set is lost
        values["crm_times"] = {SYNCED: int(modified.timestamp() * 1000)}
    evidence = modified or ctx.now
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
            values["stage"] = stage = canonical_stage(rule.stage)
            stage_reached(values, stage, evidence)
    add_contact_evidence(record, rule, ctx.time(cells, "Last Contacted"), evidence)
    link_record(record, mapping)
    return finished(record)


def owner_id(raw: str) -> str | None:
    """A HubSpot owner id (digits), as an owner cell of the API or an old export holds it."""
    value = raw.strip()
    return value if value.isdigit() else None


def _recognises(names: set[str], columns: dict[str, int]) -> bool:
    return "Record ID" in columns


FORMAT = CrmFormat(
    name="hubspot",
    fields=FIELDS,
    id_field="Record ID",
    map_row=hubspot_lead,
    recognises=_recognises,
    stages=STAGES,
    statuses=LEAD_STATUSES,
    sources=SOURCES,
    handoff=("Became a Marketing Qualified Lead Date", "Owner Assigned Date"),
    property_fields=PROPERTY_FIELDS,
    starter_split=(
        "# HubSpot's Original Source values\n"
        "organic_search = 0.3\npaid_search = 0.2\norganic_social = 0.1\n"
        "email_marketing = 0.1\nreferrals = 0.1\ndirect_traffic = 0.1\noffline_sources = 0.1\n"
    ),
    starter_override="paid_search",
    statuses_key="lead_statuses",  # hs_lead_status
    rep_id_key="hubspot_owner_id",
    owner_id=owner_id,
)
