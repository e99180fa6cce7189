"""`/quota` and `slabot quota`: parse, look up the stored assumptions, compute."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from bot.domain.quota_args import QuotaRequest
from bot.domain.quota_plan import QuotaAnswer, plan_quota
from storage.agreements import agreement_in_force


def answer_quota(
    engine: Engine | None, request: QuotaRequest, *, now: datetime | None = None
) -> QuotaAnswer:
    """The plan for `request`, with gaps filled from the agreement in force today.

    Raises QuotaInputError with a specific message for anything a user got wrong.
    """
    now = now or datetime.now(UTC)
    agreement = agreement_in_force(engine, on=now.date()) if engine is not None else None
    today = agreement.business_calendar().today(now) if agreement else now.date()
    return plan_quota(request, agreement, today)
