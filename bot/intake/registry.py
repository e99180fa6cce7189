"""Every CRM slabot reads and writes. A new CRM is a folder beside `hubspot/` and
`salesforce/` (its export format, API client, sync pass and write-back, gathered in its
`Connector`) and one line here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.domain.agreement import Agreement
from bot.intake import hubspot, salesforce
from bot.intake.connector import Connector
from bot.intake.exports import CrmMapping, resolve_columns
from bot.settings import Settings

CONNECTORS: dict[str, Connector] = {
    each.name: each for each in (hubspot.CONNECTOR, salesforce.CONNECTOR)
}


def connected(settings: Settings) -> tuple[str, ...]:
    """The CRMs slabot may read from and write to (their credentials are set)."""
    return tuple(name for name, each in CONNECTORS.items() if each.connected(settings))


def detect_format(header: Sequence[str], mappings: Mapping[str, CrmMapping]) -> str | None:
    """native | touches | a CRM's name, from the header row; None if unrecognised."""
    names = {name.strip().lower() for name in header}
    if "lead_id" in names:
        return "touches" if "touched_at" in names else "native"
    for name, crm in CONNECTORS.items():
        if crm.export.recognises(names, resolve_columns(header, mappings[name])):
            return name
    return None


def handoff_columns(source_system: str) -> str:
    """What to export so that a lead's hand-off is dated (its SLA clocks start from it)."""
    if source_system in CONNECTORS:
        return CONNECTORS[source_system].export.handoff_columns()
    return "mql_at (or assigned_at)"


def crm_problems(agreement: Agreement) -> list[tuple[tuple[str, ...], str]]:
    """What the agreement's `[crm.<name>]` sections get wrong: a CRM slabot does not read, or
    lead statuses mapped under the key another CRM uses."""
    problems: list[tuple[tuple[str, ...], str]] = []
    for name, section in agreement.crm.sections().items():
        crm = CONNECTORS.get(name)
        if crm is None:
            known = ", ".join(CONNECTORS)
            problems.append((("crm", name), f"slabot reads no CRM named {name!r} (one of {known})"))
            continue
        key = crm.export.statuses_key
        other = "lead_statuses" if key == "statuses" else "statuses"
        if getattr(section, other):
            problems.append(
                (("crm", name, other), f"{crm.title}'s lead statuses go under [crm.{name}.{key}]")
            )
    return problems
