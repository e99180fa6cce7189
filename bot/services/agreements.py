"""The agreement: apply a new version from the file (its CRM sections checked against the CRMs
slabot reads)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Engine

from bot.domain.agreement import Agreement
from bot.domain.agreement_file import changes, parse_agreement
from bot.domain.calendar import period_bounds
from bot.intake.registry import crm_problems
from storage import agreements as stored
from storage import queries
from storage.alerts import mark_all_open_stale
from storage.db import session_scope


@dataclass(frozen=True)
class Applied:
    version: int
    in_force_from: date
    changes: list[tuple[str, Any, Any]]  # (key, before, after)
    created: bool  # False when the file matched the latest version: nothing was stored
    agreement: Agreement  # the terms as validated


def apply_agreement(
    engine: Engine,
    text: str,
    *,
    now: datetime | None = None,
    applied_by: str = "",
    signed_by: list[dict] | None = None,
) -> Applied:
    """Validate the file's text and store it as a new version (unless nothing changed), with
    the signatories' approvals it was signed with (none: applied without sign-off).

    A new version never rewrites the past: it is in force from its `effective` date or from the
    start of the current period, whichever is later, so a closed period keeps reporting against
    the terms it ran under. Raises AgreementFileError with the key and line of each problem.
    """
    agreement = parse_agreement(text, crm_problems)
    terms = agreement.model_dump(mode="json")
    now = now or datetime.now(UTC)
    today = agreement.business_calendar().today(now)
    with session_scope(engine) as session:
        latest = queries.latest_agreement(session)
        diff = changes(latest.terms if latest else None, terms)
        if latest is not None and not diff:
            return Applied(
                latest.version, latest.in_force_from, [], created=False, agreement=agreement
            )
        effective = agreement.agreement.effective
        if latest is not None:
            effective = max(effective, period_bounds(today, agreement.period)[0])
        row = queries.add_agreement_version(
            session,
            name=agreement.agreement.name,
            effective=agreement.agreement.effective,
            in_force_from=effective,
            period=agreement.period,
            terms=terms,
            source_text=text,
            applied_by=applied_by,
            applied_at=now,
            signed_by=signed_by or [],
        )
        queries.remember_slack_ids(session, terms["reps"])
        mark_all_open_stale(session.connection())  # deadlines follow the new terms
        applied = Applied(row.version, row.in_force_from, diff, created=True, agreement=agreement)
    stored.forget()
    return applied
