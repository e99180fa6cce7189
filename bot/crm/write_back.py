"""Slack's actions written back to the CRM, as outbox items of kind `crm`.

**Contacted** becomes a note on the HubSpot contact (or a completed Task on the Salesforce
lead) and moves the lead status to a contacted one unless it already is; **Recycle…** writes
the reason the same way and sets the recycled status. The outbox delivers each item once: a
retry first looks on the record for the note or task carrying the item's reference, so a
write whose answer was lost is not made twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.crm import CrmError
from bot.crm.hubspot_api import HubSpotApi
from bot.crm.salesforce_api import SalesforceApi
from bot.domain.crm_exports import CrmMapping

ACTIONS = ("contacted", "recycled")
DEFAULT_STATUS = {
    ("hubspot", "contacted"): "ATTEMPTED_TO_CONTACT",
    ("hubspot", "recycled"): "UNQUALIFIED",
    ("salesforce", "contacted"): "Working - Contacted",
    ("salesforce", "recycled"): "Closed - Not Converted",
}


@dataclass(frozen=True)
class WriteBack:
    """What one outbox item asks of the CRM."""

    crm: str
    lead: str  # the CRM's record id
    action: str  # contacted | recycled
    at: datetime
    by: str  # the person who pressed, as an email
    reason: str | None = None
    status: str | None = None  # the agreement's contacted_status / recycled_status

    def payload(self) -> dict[str, Any]:
        return {
            "crm": self.crm,
            "lead": self.lead,
            "action": self.action,
            "at": self.at.isoformat(),
            "by": self.by,
            "reason": self.reason,
            "status": self.status,
            "text": f"{self.crm}: {self.action} {self.lead}",
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> WriteBack:
        return cls(
            payload["crm"],
            payload["lead"],
            payload["action"],
            datetime.fromisoformat(payload["at"]),
            payload["by"],
            payload.get("reason"),
            payload.get("status"),
        )

    def sentence(self, ref: str) -> str:
        did = "Contacted" if self.action == "contacted" else f"Recycled: {self.reason}"
        return f"{did} — marked in Slack by {self.by or 'the owner'} (slabot {ref})"


def reference(item_id: int) -> str:
    """The mark a written note or task carries, by which a retry finds it."""
    return f"#{item_id}"


class CrmWriter:
    """Writes outbox items of kind `crm` with the CRM clients the settings describe."""

    def __init__(self, apis: dict[str, Any], mapping: Callable[[str], CrmMapping]) -> None:
        self.apis = apis  # crm name → HubSpotApi | SalesforceApi
        self.mapping = mapping  # crm name → its statuses, as the agreement in force maps them
        self._users: dict[str, str] | None = None  # Salesforce: email → user id

    def write(self, item_id: int, payload: dict[str, Any], *, attempts: int) -> tuple[str, bool]:
        """(the record written or found, whether an earlier attempt had written it)."""
        action = WriteBack.from_payload(payload)
        api = self.apis.get(action.crm)
        if api is None:
            raise CrmError(
                f"{action.crm} is not configured here: set its credentials (see README, "
                "Live CRM sync) and the write-back is tried again",
                transient=True,
            )
        ref = reference(item_id)
        if isinstance(api, HubSpotApi):
            return self._hubspot(api, action, ref, look_first=attempts > 1)
        return self._salesforce(api, action, ref, look_first=attempts > 1)

    def _hubspot(
        self, api: HubSpotApi, action: WriteBack, ref: str, *, look_first: bool
    ) -> tuple[str, bool]:
        body = action.sentence(ref)
        found = None
        if look_first:
            found = next(
                (
                    str(note["id"])
                    for note in api.notes_of(action.lead)
                    if f"(slabot {ref})" in str((note.get("properties") or {}).get("hs_note_body"))
                ),
                None,
            )
        note = found or api.create_note(action.lead, body=body, at=action.at, owner_id=None)
        if self._moves(action, lambda: api.contact_status(action.lead)):
            status = action.status or DEFAULT_STATUS[("hubspot", action.action)]
            api.update_contact(action.lead, {"hs_lead_status": status})
        return note, found is not None

    def _salesforce(
        self, api: SalesforceApi, action: WriteBack, ref: str, *, look_first: bool
    ) -> tuple[str, bool]:
        marker = f"(slabot {ref})"
        found = None
        if look_first:
            found = next(
                (
                    str(task["Id"])
                    for task in api.tasks_on(action.lead, action.at)
                    if marker in str(task.get("Description") or "")
                ),
                None,
            )
        if found is None:
            fields: dict[str, object] = {
                "WhoId": action.lead,
                "Subject": "Contacted" if action.action == "contacted" else "Recycled",
                "Status": "Completed",
                "ActivityDate": action.at.date().isoformat(),
                "Description": action.sentence(ref),
            }
            owner = self._user_id(api, action.by)
            if owner:
                fields["OwnerId"] = owner
            task = api.create_task(fields)
        if self._moves(action, lambda: api.lead_status(action.lead)):
            status = action.status or DEFAULT_STATUS[("salesforce", action.action)]
            api.update_lead(action.lead, {"Status": status})
        return found or task, found is not None

    def _moves(self, action: WriteBack, current: Callable[[], str | None]) -> bool:
        """Whether to set the status: a recycle always does; Contacted leaves a lead already
        at a contacted status (Connected, Working…) where it is."""
        if action.action != "contacted":
            return True
        status = current()
        rule = self.mapping(action.crm).status(status) if status else None
        return not (rule is not None and rule.contacted)

    def _user_id(self, api: SalesforceApi, email: str) -> str | None:
        if self._users is None:
            self._users = {mail: user for user, mail in api.users().items()}
        return self._users.get(email.lower())
