"""Slack's actions written back to the CRM, as outbox items of kind `crm`, as a rep would log
them.

**Contacted** becomes a completed call on the HubSpot contact, owned by the rep who pressed
(HubSpot moves *Last Contacted* for it), or a completed call Task on the Salesforce lead dated
on the rep's own day; **Recycle…** writes the reason as a note or a Task. Either moves the lead
status to one the CRM has (its own picklist read, the agreement's choice checked against it)
unless the lead is already at a contacted status. The outbox delivers each item once: a retry
first looks on the record for the call, note or task carrying the item's reference, so a write
whose answer was lost is not made twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.crm import CrmError
from bot.crm.hubspot_api import ENGAGEMENTS, HubSpotApi
from bot.crm.salesforce_api import SalesforceApi
from bot.domain.crm_exports import CrmMapping, StatusRule

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
    day: date | None = None  # the presser's own date at `at` (a Task's ActivityDate)

    def payload(self) -> dict[str, Any]:
        return {
            "crm": self.crm,
            "lead": self.lead,
            "action": self.action,
            "at": self.at.isoformat(),
            "by": self.by,
            "reason": self.reason,
            "status": self.status,
            "day": self.day.isoformat() if self.day else None,
            "text": f"{self.crm}: {self.action} {self.lead}",
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> WriteBack:
        day = payload.get("day")
        return cls(
            payload["crm"],
            payload["lead"],
            payload["action"],
            datetime.fromisoformat(payload["at"]),
            payload["by"],
            payload.get("reason"),
            payload.get("status"),
            date.fromisoformat(day) if day else None,
        )

    def sentence(self, ref: str) -> str:
        did = "Contacted" if self.action == "contacted" else f"Recycled: {self.reason}"
        return f"{did} — marked in Slack by {self.by or 'the owner'} (slabot {ref})"


def reference(item_id: int) -> str:
    """The mark a written note or task carries, by which a retry finds it."""
    return f"#{item_id}"


_OWN = re.compile(r"\(slabot #\d+\)")


def written_by_slabot(text: str) -> bool:
    """Whether a note's or task's text carries the mark of one of slabot's write-backs."""
    return _OWN.search(text) is not None


class CrmWriter:
    """Writes outbox items of kind `crm` with the CRM clients the settings describe."""

    def __init__(self, apis: dict[str, Any], mapping: Callable[[str], CrmMapping]) -> None:
        self.apis = apis  # crm name → HubSpotApi | SalesforceApi
        self.mapping = mapping  # crm name → its statuses, as the agreement in force maps them
        self._people: dict[str, dict[str, str]] = {}  # crm → email → owner / user id
        self._statuses: dict[str, list[str]] = {}  # crm → its lead status values

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
        kind = "calls" if action.action == "contacted" else "notes"
        body_property = ENGAGEMENTS[kind][0]
        found = None
        if look_first:
            found = next(
                (
                    str(record["id"])
                    for record in api.logged_on(action.lead, kind)
                    if f"(slabot {ref})" in str((record.get("properties") or {}).get(body_property))
                ),
                None,
            )
        record = found or api.log(
            kind,
            action.lead,
            body=action.sentence(ref),
            at=action.at,
            owner_id=self._person(api, action.by),
        )
        if self._moves(action, lambda: api.contact_status(action.lead)):
            api.update_contact(action.lead, {"hs_lead_status": self._status(api, action)})
        return record, found is not None

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
            call = action.action == "contacted"
            fields: dict[str, object] = {
                "WhoId": action.lead,
                "Subject": "Call" if call else "Recycled",
                "Status": "Completed",
                "ActivityDate": (action.day or action.at.date()).isoformat(),
                "Description": action.sentence(ref),
            }
            if call:  # logged as a rep logs a call (Log a Call: TaskSubtype Call)
                fields |= {"TaskSubtype": "Call", "Type": "Call"}
            owner = self._person(api, action.by)
            if owner:
                fields["OwnerId"] = owner
            task = api.create_task(fields)
        if self._moves(action, lambda: api.lead_status(action.lead)):
            api.update_lead(action.lead, {"Status": self._status(api, action)})
        return found or task, found is not None

    def _moves(self, action: WriteBack, current: Callable[[], str | None]) -> bool:
        """Whether to set the status: a recycle always does; Contacted leaves a lead already
        at a contacted status (Connected, Working…) where it is."""
        if action.action != "contacted":
            return True
        status = current()
        rule = self.mapping(action.crm).status(status) if status else None
        return not (rule is not None and rule.contacted)

    def _status(self, api: HubSpotApi | SalesforceApi, action: WriteBack) -> str:
        """The status to write, one the CRM has: the agreement's choice, else the CRM's
        default, else the first of the CRM's own values the mapping reads as this action.
        None fits: refused, with the setting that chooses one."""
        crm = action.crm
        if crm not in self._statuses:
            self._statuses[crm] = api.lead_statuses()
        values = self._statuses[crm]
        setting = f"[crm.{crm}] {action.action}_status"
        if action.status:
            if action.status in values:
                return action.status
            raise CrmError(
                f"{crm} has no lead status {action.status!r} ({setting}); its statuses: "
                f"{', '.join(values)}",
                transient=False,
            )
        default = DEFAULT_STATUS[(crm, action.action)]
        if default in values:
            return default
        mapping = self.mapping(crm)
        for value in values:
            rule = mapping.status(value)
            if rule is not None and _means(rule, action.action):
                return value
        raise CrmError(
            f"none of {crm}'s lead statuses ({', '.join(values)}) says the lead was "
            f'{action.action}: choose one with {setting} = "…"',
            transient=False,
        )

    def _person(self, api: HubSpotApi | SalesforceApi, email: str) -> str | None:
        """The HubSpot owner id or Salesforce user id of the person who pressed."""
        crm = "hubspot" if isinstance(api, HubSpotApi) else "salesforce"
        if crm not in self._people:
            ids = api.owners() if isinstance(api, HubSpotApi) else api.users()
            self._people[crm] = {mail: person for person, mail in ids.items()}
        return self._people[crm].get(email.lower())


def _means(rule: StatusRule, action: str) -> bool:
    """Whether a status says what the action did: contacted (and no further than accepted),
    or recycled."""
    if action == "recycled":
        return rule.stage == "recycled"
    return rule.contacted and rule.stage in (None, "sal")
