"""How a CRM's files, events and API records map onto slabot, from the agreement in force
(`[crm.<name>]`, the reps' names and ids in that CRM) and the CRM's own owner list."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.domain.agreement import Agreement, CrmSection, RepTerms, StatusTerms
from bot.intake.exports import CrmFormat, CrmMapping, StatusRule, fold_key
from bot.intake.owners import OwnerDirectory, RepIdentity
from storage.agreements import agreement_in_force, newest_agreement


def _status_rules(terms: dict[str, StatusTerms | str]) -> dict[str, StatusRule]:
    rules = {}
    for name, rule in terms.items():
        if isinstance(rule, str):
            contacted = rule == "contacted"
            rule = StatusTerms(stage=None if contacted else rule, contacted=contacted)
        rules[fold_key(name)] = StatusRule(rule.stage, rule.contacted)
    return rules


def mapping_for(
    agreement: Agreement | None,
    crm: CrmFormat,
    *,
    slack_names: dict[str, str] | None = None,
    crm_owners: dict[str, str] | None = None,
) -> CrmMapping:
    """How `crm`'s files and events map, from the agreement's `[crm.<name>]` and reps;
    `crm_owners` (owner id → email, as the CRM's API lists its users) comes after the reps'
    ids in this CRM and before the agreement's own `[crm.<name>.owners]` lines."""
    section = agreement.crm.section(crm.name) if agreement else CrmSection()
    reps = [
        RepIdentity(rep.email, rep.name, _rep_ids(rep, crm))
        for rep in (agreement.reps if agreement else [])
    ]
    return CrmMapping(
        format=crm,
        columns=section.columns,
        stages=section.stages,
        sources=section.sources,
        statuses=_status_rules(section.statuses or section.lead_statuses),
        owners=OwnerDirectory.build(
            reps,
            owners={**(crm_owners or {}), **section.owners},
            slack_names=slack_names or {},
            normalise_id=crm.normalise_id,
        ),
        record_url=section.record_url,
        date_order=section.date_order,
        segment_field=section.segment_field,
        segments=section.segments,
        known_segments=frozenset(agreement.funnel.segments) if agreement else frozenset(),
    )


def _rep_ids(rep: RepTerms, crm: CrmFormat) -> tuple[str, ...]:
    """The rep's id in this CRM, as the agreement gives it (`hubspot_owner_id = "…"`)."""
    value = getattr(rep, crm.rep_id_key) if crm.rep_id_key else None
    return (value,) if value else ()


def ingest_context(engine: Engine, today: date | None = None) -> tuple[tzinfo, Agreement | None]:
    """The timezone for naive timestamps (the agreement's calendar) and the agreement: the one
    in force, else (before the first comes into force) the newest applied."""
    agreement = agreement_in_force(engine, on=today or datetime.now(UTC).date())
    agreement = agreement or newest_agreement(engine)
    return (ZoneInfo(agreement.calendar.timezone) if agreement else UTC), agreement
