"""How each CRM's files, events and API records map onto slabot, from the agreement in force
(`[crm.<name>]`, the reps' CRM names and ids) and the CRM's own owner list; and the line of
the agreement that maps a value nobody mapped."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.domain import crm_exports as crm
from bot.domain.agreement import Agreement, CrmSection, StatusTerms
from bot.domain.crm_formats import FORMATS as CRM_FORMATS
from bot.domain.owners import OwnerDirectory, RepIdentity, owner_line
from bot.services.agreements import agreement_in_force, newest_agreement
from storage import people
from storage.ingest import assign_owner, unowned_crm_owners
from storage.ingest import unmatched_owners as stored_unmatched

SETTING = {  # what an unmapped value is, and where the agreement maps it
    "owner": "owners",
    "stage": "stages",
    "status": "statuses",
    "lead_status": "lead_statuses",
}


def fix_line(crm_name: str, what: str, value: str) -> str:
    quoted = value.replace('"', '\\"')
    if what == "owner":
        return owner_line(crm_name, value)
    if what == "stage":
        return f'[crm.{crm_name}.stages] "{quoted}" = "mql"'
    value_text, meaning = crm.STATUS_CHOICES[crm.suggested_status(value)]
    return f'[crm.{crm_name}.{SETTING[what]}] "{quoted}" = {value_text}  # {meaning}'


def status_choices() -> list[str]:
    """Each way a status can be mapped, and what it does."""
    return [f"{value_text}: {meaning}" for value_text, meaning in crm.STATUS_CHOICES.values()]


def _status_rules(terms: dict[str, StatusTerms | str]) -> dict[str, crm.StatusRule]:
    rules = {}
    for name, rule in terms.items():
        if isinstance(rule, str):
            contacted = rule == "contacted"
            rule = StatusTerms(stage=None if contacted else rule, contacted=contacted)
        rules[crm.fold_key(name)] = crm.StatusRule(rule.stage, rule.contacted)
    return rules


def mapping_for(
    agreement: Agreement | None,
    name: str,
    *,
    slack_names: dict[str, str] | None = None,
    crm_owners: dict[str, str] | None = None,
) -> crm.CrmMapping:
    """How `name`'s files and events map, from the agreement's `[crm.<name>]` and reps;
    `crm_owners` (owner id → email, as the CRM's API lists its users) comes after the reps'
    CRM ids and before the agreement's own `[crm.<name>.owners]` lines."""
    section: CrmSection = getattr(agreement.crm, name) if agreement else CrmSection()
    reps = [
        RepIdentity(
            rep.email,
            rep.name,
            tuple(i for i in (rep.hubspot_owner_id, rep.salesforce_user_id) if i),
        )
        for rep in (agreement.reps if agreement else [])
    ]
    return crm.CrmMapping(
        format=CRM_FORMATS[name],
        columns=section.columns,
        stages=section.stages,
        sources=section.sources,
        statuses=_status_rules(section.statuses or section.lead_statuses),
        owners=OwnerDirectory.build(
            reps, owners={**(crm_owners or {}), **section.owners}, slack_names=slack_names or {}
        ),
        record_url=section.record_url,
        date_order=section.date_order,
    )


def ingest_context(engine: Engine, today: date | None = None) -> tuple[tzinfo, Agreement | None]:
    """The timezone for naive timestamps (the agreement's calendar) and the agreement: the one
    in force, else (before the first comes into force) the newest applied."""
    agreement = agreement_in_force(engine, on=today or datetime.now(UTC).date())
    agreement = agreement or newest_agreement(engine)
    return (ZoneInfo(agreement.calendar.timezone) if agreement else UTC), agreement


def unmatched_owners(engine: Engine) -> list[tuple[str, str, int]]:
    """(crm, owner as the CRM wrote it, leads) of the CRM owners nobody matches."""
    with engine.connect() as connection:
        return stored_unmatched(connection)


def assign_known_owners(engine: Engine, agreement: Agreement) -> int:
    """Leads kept unowned whose CRM owner the agreement now recognises (a rep's new `name` or
    CRM id, an `[crm.*.owners]` line) get that owner: webhook leads are not re-imported."""
    with engine.begin() as connection:
        slack_names = people.real_names(connection)
        mappings: dict[str, crm.CrmMapping] = {}
        assigned = 0
        for system, owner in unowned_crm_owners(connection):
            if system not in CRM_FORMATS:
                continue
            if system not in mappings:
                mappings[system] = mapping_for(agreement, system, slack_names=slack_names)
            email = mappings[system].owners.resolve(owner)
            if email:
                assigned += assign_owner(
                    connection, source_system=system, crm_owner=owner, email=email
                )
    return assigned
