"""`/quota` and `slabot quota`: parse, look up the stored assumptions, compute."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from bot.domain.business_time import Duration
from bot.domain.by_when import median_cycle
from bot.domain.quota_args import QuotaRequest
from bot.domain.quota_plan import QuotaAnswer, plan_quota, stored_cycle
from storage.agreements import agreement_in_force
from storage.digest import won_cycles
from storage.outages import unreachable


def answer_quota(
    engine: Engine | None, request: QuotaRequest, *, now: datetime | None = None
) -> QuotaAnswer:
    """The plan for `request`, with gaps filled from the agreement in force today.

    Raises QuotaInputError with a specific message for anything a user got wrong.
    """
    now = now or datetime.now(UTC)
    agreement = agreement_in_force(engine, on=now.date()) if engine is not None else None
    today = agreement.business_calendar().today(now) if agreement else now.date()
    measured = None
    if engine is not None and stored_cycle(agreement, request.source, request.segment) is None:
        try:
            measured = measured_cycle(engine, source=request.source, segment=request.segment)
        except Exception as error:
            if not unreachable(error):
                raise
            # the quota math needs only the agreement the process holds: no "by when" today
    return plan_quota(request, agreement, today, measured)


def measured_cycle(
    engine: Engine, *, source: str | None, segment: str | None
) -> tuple[Duration, int] | None:
    """The median days from MQL to won of the won leads (of the source or segment), rounded
    up, and how many it is the median of (`median_cycle`)."""
    with engine.connect() as connection:
        return median_cycle(won_cycles(connection, source=source, segment=segment))
