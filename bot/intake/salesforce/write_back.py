"""Slack's actions on a Salesforce lead: a completed Task dated on the presser's own day —
**Contacted** logged as a rep logs a call (TaskSubtype Call), **Recycle…** with the reason;
the lead status is `Status`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.intake.salesforce.api import SalesforceApi
from bot.intake.write_back import WriteBack


class LeadRecords:
    """The write-back's view of Salesforce (`bot.intake.write_back.CrmRecords`)."""

    default_status: Mapping[str, str] = MappingProxyType(
        {"contacted": "Working - Contacted", "recycled": "Closed - Not Converted"}
    )

    def __init__(self, api: SalesforceApi) -> None:
        self.api = api

    def people(self) -> dict[str, str]:
        return self.api.users()

    def lead_statuses(self) -> list[str]:
        return self.api.lead_statuses()

    def status_of(self, lead: str) -> str | None:
        return self.api.lead_status(lead)

    def set_status(self, lead: str, status: str) -> None:
        self.api.update_lead(lead, {"Status": status})

    def set_owner(self, lead: str, owner: str) -> None:
        self.api.update_lead(lead, {"OwnerId": owner})

    def find_written(self, action: WriteBack, mark: str) -> str | None:
        for task in self.api.tasks_on(action.lead, action.at):
            if mark in str(task.get("Description") or ""):
                return str(task["Id"])
        return None

    def write(self, action: WriteBack, text: str, owner: str | None) -> str:
        call = action.action == "contacted"
        fields: dict[str, object] = {
            "WhoId": action.lead,
            "Subject": "Call" if call else "Recycled",
            "Status": "Completed",
            "ActivityDate": (action.day or action.at.date()).isoformat(),
            "Description": text,
        }
        if call:
            fields |= {"TaskSubtype": "Call", "Type": "Call"}
        if owner:
            fields["OwnerId"] = owner
        return self.api.create_task(fields)
