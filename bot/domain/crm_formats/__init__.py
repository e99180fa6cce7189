"""Every CRM file format slabot reads. A new CRM is a module beside these (its labels, its
stages and statuses, a row → lead) and one line here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.domain.crm_exports import CrmFormat, CrmMapping, resolve_columns
from bot.domain.crm_formats import hubspot, salesforce

FORMATS: dict[str, CrmFormat] = {each.name: each for each in (hubspot.FORMAT, salesforce.FORMAT)}


def detect_format(header: Sequence[str], mappings: Mapping[str, CrmMapping]) -> str | None:
    """native | touches | a CRM format's name, from the header row; None if unrecognised."""
    names = {name.strip().lower() for name in header}
    if "lead_id" in names:
        return "touches" if "touched_at" in names else "native"
    for name, crm in FORMATS.items():
        if crm.recognises(names, resolve_columns(header, mappings[name])):
            return name
    return None


def handoff_columns(source_system: str) -> str:
    """What to export so that a lead's hand-off is dated (its SLA clocks start from it)."""
    if source_system in FORMATS:
        return FORMATS[source_system].handoff_columns()
    return "mql_at (or assigned_at)"
