"""Leads kept without an owner slabot knows: the CRM owners nobody matches, and the owners a
new agreement recognises."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bot.domain.agreement import Agreement
from bot.intake.exports import CrmMapping
from bot.intake.mapping import mapping_for
from bot.intake.registry import CONNECTORS
from storage import people
from storage.ingest import assign_owner, unowned_crm_owners
from storage.ingest import unmatched_owners as stored_unmatched


def unmatched_owners(engine: Engine) -> list[tuple[str, str, int]]:
    """(crm, owner as the CRM wrote it, leads) of the CRM owners nobody matches."""
    with engine.connect() as connection:
        return stored_unmatched(connection)


def assign_known_owners(engine: Engine, agreement: Agreement) -> int:
    """Leads kept unowned whose CRM owner the agreement now recognises (a rep's new `name` or
    CRM id, an `[crm.*.owners]` line) get that owner: webhook leads are not re-imported."""
    with engine.begin() as connection:
        slack_names = people.real_names(connection)
        mappings: dict[str, CrmMapping] = {}
        assigned = 0
        for system, owner in unowned_crm_owners(connection):
            if system not in CONNECTORS:
                continue
            if system not in mappings:
                export = CONNECTORS[system].export
                mappings[system] = mapping_for(agreement, export, slack_names=slack_names)
            email = mappings[system].owners.resolve(owner)
            if email:
                assigned += assign_owner(
                    connection, source_system=system, crm_owner=owner, email=email
                )
    return assigned
