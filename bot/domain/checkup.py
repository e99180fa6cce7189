"""One finding of `slabot doctor` (and of `sla apply`'s warnings): an area, whether it is well,
and the facts the sentence for its kind is written from (`templates/doctor/checks.txt.j2`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Check:
    area: str  # database, agreement, Slack, scopes, channel, people, owners, CRM, clock
    ok: bool
    kind: str  # the sentence: a macro of templates/doctor/checks.txt.j2
    facts: dict[str, Any] = field(default_factory=dict)
