"""Slack's actions written back to the CRM, as outbox items of kind `crm`, as a rep would log
them.

**Contacted** becomes a logged call on the record, owned by the rep who pressed; **Recycle…**
writes the reason as a note or a task (each CRM's `write_back.py` says how). Either moves the
lead status to one the CRM has (its own picklist read, the agreement's choice checked against
it) unless the lead is already at a contacted status. The outbox delivers each item once: a
retry first looks on the record for the call, note or task carrying the item's reference, so a
write whose answer was lost is not made twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from bot.intake.errors import CrmError
from bot.intake.exports import CrmMapping, StatusRule


@dataclass(frozen=True)
class WriteBack:
    """What one outbox item asks of the CRM."""

    crm: str
    lead: str  # the CRM's record id
    action: str  # contacted | recycled | owner
    at: datetime
    by: str  # the person who pressed (for `owner`: the new owner), as an email
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


OWNER = "owner"  # a routing action: `by` is the lead's new owner


class CrmRecords(Protocol):
    """What the write-back needs of one CRM (its folder's `write_back.py`)."""

    default_status: Mapping[str, str]  # action → the CRM's standard status for it

    def people(self) -> dict[str, str]:
        """The CRM's user or owner id → email, of everyone (archived too)."""
        ...

    def lead_statuses(self) -> list[str]:
        """The lead status values the CRM offers."""
        ...

    def status_of(self, lead: str) -> str | None: ...

    def set_status(self, lead: str, status: str) -> None: ...

    def set_owner(self, lead: str, owner: str) -> None:
        """Make `owner` (the CRM's own user id) the lead's owner."""
        ...

    def find_written(self, action: WriteBack, mark: str) -> str | None:
        """The id of the call, note or task on the lead whose text carries `mark`."""
        ...

    def write(self, action: WriteBack, text: str, owner: str | None) -> str:
        """Log the action on the lead (owned by `owner`, a CRM id): the new record's id."""
        ...


class CrmWriter:
    """Writes outbox items of kind `crm` to the CRMs this install reaches."""

    def __init__(self, crms: dict[str, CrmRecords], mapping: Callable[[str], CrmMapping]) -> None:
        self.crms = crms  # crm name → its records
        self.mapping = mapping  # crm name → its statuses, as the agreement in force maps them
        self._people: dict[str, dict[str, str]] = {}  # crm → email → owner / user id
        self._statuses: dict[str, list[str]] = {}  # crm → its lead status values

    def write(self, item_id: int, payload: dict[str, Any], *, attempts: int) -> tuple[str, bool]:
        """(the record written or found, whether an earlier attempt had written it)."""
        action = WriteBack.from_payload(payload)
        records = self.crms.get(action.crm)
        if records is None:
            raise CrmError(
                f"{action.crm} is not configured here: set its credentials (see README, "
                "Live CRM sync) and the write-back is tried again",
                transient=True,
            )
        if action.action == OWNER:
            return self._owner(records, action), False
        ref = reference(item_id)
        found = records.find_written(action, f"(slabot {ref})") if attempts > 1 else None
        record = found or records.write(
            action, action.sentence(ref), self._person(action.crm, records, action.by)
        )
        if self._moves(action, lambda: records.status_of(action.lead)):
            records.set_status(action.lead, self._status(records, action))
        return record, found is not None

    def _owner(self, records: CrmRecords, action: WriteBack) -> str:
        """A lead routed in Slack: its owner in the CRM is the new owner's CRM user. Setting
        an owner twice sets the same one: a retry needs no look first."""
        person = self._person(action.crm, records, action.by)
        if person is None:
            raise CrmError(
                f"{action.by} has no {action.crm} user, so the lead's owner there was not "
                f"changed: map them with the rep's {action.crm} id in the agreement",
                transient=False,
            )
        records.set_owner(action.lead, person)
        return action.lead

    def _moves(self, action: WriteBack, current: Callable[[], str | None]) -> bool:
        """Whether to set the status: a recycle always does; Contacted leaves a lead already
        at a contacted status (Connected, Working…) where it is."""
        if action.action != "contacted":
            return True
        status = current()
        rule = self.mapping(action.crm).status(status) if status else None
        return not (rule is not None and rule.contacted)

    def _status(self, records: CrmRecords, action: WriteBack) -> str:
        """The status to write, one the CRM has: the agreement's choice, else the CRM's
        default, else the first of the CRM's own values the mapping reads as this action.
        None fits: refused, with the setting that chooses one."""
        crm = action.crm
        if crm not in self._statuses:
            self._statuses[crm] = records.lead_statuses()
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
        default = records.default_status[action.action]
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

    def _person(self, crm: str, records: CrmRecords, email: str) -> str | None:
        """The CRM's own id of the person who pressed."""
        if crm not in self._people:
            self._people[crm] = {mail: person for person, mail in records.people().items()}
        return self._people[crm].get(email.lower())


def _means(rule: StatusRule, action: str) -> bool:
    """Whether a status says what the action did: contacted (and no further than accepted),
    or recycled."""
    if action == "recycled":
        return rule.stage == "recycled"
    return rule.contacted and rule.stage in (None, "sal")
