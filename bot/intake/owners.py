"""Who owns a lead, from whatever the CRM wrote in its owner column.

CRMs name owners in many ways: an email, a full name (`Melissa Conroy`), a name with an email
(`Melissa Conroy melissa@x.com`), or the CRM's own id for them (a HubSpot owner id, a
Salesforce user id). An owner matches, in this order, by email, by a rep's `name` or id in
this CRM in the agreement, by a Slack profile's real name, and by `[crm.<name>.owners]`.
An owner that matches nobody is not an error: the lead is kept unowned and the owner reported.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

_EMAIL_IN = re.compile(r"[^@\s<>(),;]+@[^@\s<>(),;]+\.[^@\s<>(),;]+")


def fold_name(text: str) -> str:
    """A name as people match names: case, accents and spacing do not matter."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.casefold().split())


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
    normalise_id: Callable[[str], str] = str.strip  # the CRM's id as it stores it
    _resolved: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        reps: Iterable[RepIdentity],
        *,
        owners: Mapping[str, str] = {},
        slack_names: Mapping[str, str] = {},
        normalise_id: Callable[[str], str] = str.strip,
    ) -> OwnerDirectory:
        directory = cls(normalise_id=normalise_id)
        for rep in reps:
            if rep.name:
                directory.by_name.setdefault(fold_name(rep.name), rep.email)
            for crm_id in rep.crm_ids:
                directory.by_id[directory.id_key(crm_id)] = rep.email
        for name, email in slack_names.items():
            directory.by_slack_name.setdefault(fold_name(name), email.lower())
        for key, email in owners.items():
            directory.configured[directory.id_key(key)] = email.lower()
            directory.configured[fold_name(key)] = email.lower()
        return directory

    def id_key(self, text: str) -> str:
        return self.normalise_id(text.strip()).lower()

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
        key, name = self.id_key(text), fold_name(text)
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


def owner_line(crm: str, raw: str, rep_id: str | None = None) -> str:
    """The agreement line that maps an unmatched owner (shown to whoever imports). `rep_id`:
    the rep's key for this CRM's id and the id, where `raw` is one (`hubspot_owner_id = "7"`)."""
    value = raw.strip().replace('"', '\\"')
    if crm == "native":
        return f'name = "{value}" on the rep'
    section = f'[crm.{crm}.owners] "{value}" = "rep@yourco.com"'
    return (
        f"{rep_id} on the rep, or {section}"
        if rep_id
        else f'name = "{value}" on the rep, or {section}'
    )
