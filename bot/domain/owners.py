"""Who owns a lead, from whatever the CRM wrote in its owner column.

CRMs name owners in many ways: an email, a full name (`Melissa Conroy`), a name with an email
(`Melissa Conroy melissa@x.com`), a HubSpot owner id (`31425364`) or a Salesforce user id
(`0055e000001AbCd`, 15 or 18 characters). An owner matches, in this order, by email, by a rep's
`name` or CRM ids in the agreement, by a Slack profile's real name, and by `[crm.*.owners]`.
An owner that matches nobody is not an error: the lead is kept unowned and the owner reported.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_EMAIL_IN = re.compile(r"[^@\s<>(),;]+@[^@\s<>(),;]+\.[^@\s<>(),;]+")
_SALESFORCE_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id18(raw: str) -> str:
    """A Salesforce id in its 18-character form: a 15-character (case-sensitive) id gets the
    checksum Salesforce itself appends, so report ids and API ids of one record agree."""
    text = raw.strip()
    if len(text) != 15 or not text.isalnum():
        return text
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, char in enumerate(text[start : start + 5]) if "A" <= char <= "Z")
        suffix += _CHECKSUM[bits]
    return text + suffix


def is_salesforce_id(text: str) -> bool:
    return bool(_SALESFORCE_ID.match(text.strip()))


def fold_name(text: str) -> str:
    """A name as people match names: case, accents and spacing do not matter."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.casefold().split())


def _id_key(text: str) -> str:
    raw = text.strip()
    return salesforce_id18(raw).lower() if is_salesforce_id(raw) else raw.lower()


@dataclass(frozen=True)
class RepIdentity:
    """What the agreement says about one rep that helps recognise them in a CRM."""

    email: str
    name: str | None = None
    crm_ids: tuple[str, ...] = ()


@dataclass
class OwnerDirectory:
    """Resolves owner cells to rep emails. Built once per import or webhook batch."""

    by_id: dict[str, str] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)  # folded name → email
    by_slack_name: dict[str, str] = field(default_factory=dict)
    configured: dict[str, str] = field(default_factory=dict)  # [crm.*.owners], folded
    _resolved: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        reps: Iterable[RepIdentity],
        *,
        owners: Mapping[str, str] = {},
        slack_names: Mapping[str, str] = {},
    ) -> OwnerDirectory:
        directory = cls()
        for rep in reps:
            if rep.name:
                directory.by_name.setdefault(fold_name(rep.name), rep.email)
            for crm_id in rep.crm_ids:
                directory.by_id[_id_key(crm_id)] = rep.email
        for name, email in slack_names.items():
            directory.by_slack_name.setdefault(fold_name(name), email.lower())
        for key, email in owners.items():
            directory.configured[_id_key(key)] = email.lower()
            directory.configured[fold_name(key)] = email.lower()
        return directory

    def resolve(self, raw: str) -> str | None:
        """The owner's email, or None when nothing matches (the caller reports it)."""
        if raw not in self._resolved:  # a file or a sync names the same few owners again
            self._resolved[raw] = self._look_up(raw)
        return self._resolved[raw]

    def _look_up(self, raw: str) -> str | None:
        text = raw.strip()
        if not text:
            return None
        found = _EMAIL_IN.search(text)
        if found:
            return found.group(0).lower()
        key, name = _id_key(text), fold_name(text)
        return (
            self.by_id.get(key)
            or self.by_name.get(name)
            or self.by_slack_name.get(name)
            or self.configured.get(key)
            or self.configured.get(name)
        )

    def fingerprint(self) -> str:
        """What the directory maps, as text: a change re-maps rows imported before."""
        parts = (self.by_id, self.by_name, self.by_slack_name, self.configured)
        return "|".join(",".join(f"{k}={v}" for k, v in sorted(part.items())) for part in parts)


def owner_line(crm: str, raw: str) -> str:
    """The agreement line that maps an unmatched owner (shown to whoever imports)."""
    value = raw.strip().replace('"', '\\"')
    if crm == "salesforce" and is_salesforce_id(raw):
        return f'salesforce_user_id = "{salesforce_id18(raw)}" on the rep, or [crm.salesforce.owners] "{value}" = "rep@yourco.com"'  # noqa: E501
    if crm == "hubspot" and value.isdigit():
        return f'hubspot_owner_id = "{value}" on the rep, or [crm.hubspot.owners] "{value}" = "rep@yourco.com"'  # noqa: E501
    section = f"[crm.{crm}.owners]" if crm in ("hubspot", "salesforce") else "the rep's"
    return f'name = "{value}" on the rep, or {section} "{value}" = "rep@yourco.com"'
