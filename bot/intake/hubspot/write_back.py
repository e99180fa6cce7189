"""Slack's actions on a HubSpot contact: **Contacted** is a completed outbound call owned by the
rep who pressed (HubSpot moves *Last Contacted* for it), **Recycle…** a note with the reason;
the lead status is `hs_lead_status`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.intake.hubspot.api import ENGAGEMENTS, HubSpotApi
from bot.intake.write_back import WriteBack


class ContactRecords:
    """The write-back's view of HubSpot (`bot.intake.write_back.CrmRecords`)."""

    default_status: Mapping[str, str] = MappingProxyType(
        {"contacted": "ATTEMPTED_TO_CONTACT", "recycled": "UNQUALIFIED"}
    )

    def __init__(self, api: HubSpotApi) -> None:
        self.api = api

    def people(self) -> dict[str, str]:
        return self.api.owners()

    def lead_statuses(self) -> list[str]:
        return self.api.lead_statuses()

    def status_of(self, lead: str) -> str | None:
        return self.api.contact_status(lead)

    def set_status(self, lead: str, status: str) -> None:
        self.api.update_contact(lead, {"hs_lead_status": status})

    def set_owner(self, lead: str, owner: str) -> None:
        self.api.update_contact(lead, {"hubspot_owner_id": owner})

    def find_written(self, action: WriteBack, mark: str) -> str | None:
        kind = _kind(action)
        body = ENGAGEMENTS[kind][0]
        for record in self.api.logged_on(action.lead, kind):
            if mark in str((record.get("properties") or {}).get(body)):
                return str(record["id"])
        return None

    def write(self, action: WriteBack, text: str, owner: str | None) -> str:
        return self.api.log(_kind(action), action.lead, body=text, at=action.at, owner_id=owner)


def _kind(action: WriteBack) -> str:
    return "calls" if action.action == "contacted" else "notes"
