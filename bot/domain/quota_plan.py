"""Answer a `/quota` request: fill the gaps from the agreement, then walk the funnel back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from bot.domain.agreement import Agreement, FunnelOverride, exact
from bot.domain.business_time import Duration
from bot.domain.by_when import ArrivalWindow, arrival_window
from bot.domain.calendar import PERIOD_MONTHS, BusinessCalendar, period_bounds, period_label
from bot.domain.funnel import FunnelPlan, FunnelRates, reverse_funnel
from bot.domain.quota_args import EXAMPLES, QuotaInputError, QuotaRequest, label

MAX_MQLS = 100_000_000  # a plan that needs more is a typo in the rates, not a plan
_FUNNEL_KEYS = {"aov": "aov", "win": "win", "sql2opp": "sql_to_opp", "mql2sql": "mql_to_sql"}


@dataclass(frozen=True)
class QuotaAnswer:
    plan: FunnelPlan
    period: str
    period_label: str
    business_days: int
    mqls_per_day: int
    source: str | None
    segment: str | None
    from_agreement: tuple[str, ...]  # which values came from the stored assumptions
    scaled_from: str | None  # the agreement period the stored quota was scaled from
    agreement_name: str | None
    window: ArrivalWindow | None = None  # when the MQLs must arrive (a sales cycle is known)


def stored_value(
    agreement: Agreement | None, source: str | None, key: str, segment: str | None = None
) -> Fraction | None:
    """A funnel value as the agreement holds it: the source's or segment's own, else the
    blended one; a segment's quota is its share of the quota."""
    if agreement is None:
        return None
    funnel = agreement.funnel
    override = _override(agreement, source, segment)
    value = getattr(override, key, None) if override else None
    if value is None:
        value = getattr(funnel, key)
    if value is not None and key == "quota" and segment and segment in funnel.segments:
        return exact(value) * exact(funnel.segments[segment].share)
    return exact(value) if value is not None else None


def _override(
    agreement: Agreement, source: str | None, segment: str | None
) -> FunnelOverride | None:
    """The segment's or the source's own funnel terms, if the agreement has them."""
    funnel = agreement.funnel
    if segment:
        return funnel.segments.get(segment)
    return funnel.sources.get(source) if source else None


def stored_cycle(
    agreement: Agreement | None, source: str | None, segment: str | None
) -> str | None:
    """The sales cycle the agreement gives: the segment's or source's own, else the blended."""
    if agreement is None:
        return None
    override = _override(agreement, source, segment)
    return (override.cycle if override else None) or agreement.funnel.cycle


def plan_quota(
    request: QuotaRequest,
    agreement: Agreement | None,
    today: date,
    measured: tuple[Duration, int] | None = None,
) -> QuotaAnswer:
    """Resolve every value (given, or stored) and compute the plan for the period of `today`;
    with a sales cycle (the agreement's, else `measured`: the cycle and the won leads it is
    the median of), when its MQLs must arrive."""
    source, segment = request.source, request.segment
    if source and agreement and source not in agreement.sources():
        known = ", ".join(agreement.sources()) or "none are defined"
        raise QuotaInputError(f"unknown source `{source}` (known sources: {known}).")
    if segment and (agreement is None or segment not in agreement.funnel.segments):
        known = ", ".join(agreement.funnel.segments) if agreement else ""
        raise QuotaInputError(
            f"unknown segment `{segment}` (known segments: {known or 'none are defined'})."
        )
    stored_period = agreement.period if agreement else "month"
    period = request.period or stored_period
    from_agreement: list[str] = []
    scaled_from = None

    quota = request.quota
    if quota is None:
        quota = stored_value(agreement, source, "quota", segment)
        if quota is not None:
            from_agreement.append("quota")
            if period != stored_period:
                quota = quota * PERIOD_MONTHS[period] / PERIOD_MONTHS[stored_period]
                scaled_from = stored_period
    values: dict[str, Fraction | None] = {"quota": quota}
    for key, funnel_key in _FUNNEL_KEYS.items():
        value = getattr(request, key)
        if value is None:
            value = stored_value(agreement, source, funnel_key, segment)
            if value is not None:
                from_agreement.append(key)
        values[key] = value

    missing = [key for key, value in values.items() if value is None]
    if missing:
        names = ", ".join(label(key) for key in missing)
        it = "it" if len(missing) == 1 else "them"
        where = f"the agreement has no value for {it}" if agreement else "no agreement applied yet"
        example = " ".join(EXAMPLES[key] for key in missing)
        raise QuotaInputError(f"missing {names}: give {it} inline, e.g. `{example}` ({where}).")

    given = {key: value for key, value in values.items() if value is not None}
    rates = FunnelRates(
        aov=given["aov"],
        win=given["win"],
        sql_to_opp=given["sql2opp"],
        mql_to_sql=given["mql2sql"],
    )
    plan = reverse_funnel(given["quota"], rates)
    if plan.mqls > MAX_MQLS:
        raise QuotaInputError(
            f"that plan needs {plan.mqls:,} MQLs in a {period}; check the amounts and rates."
        )
    calendar = agreement.business_calendar() if agreement else BusinessCalendar()
    start, end = period_bounds(today, period)
    business_days = calendar.business_days(start, end)
    window = None
    typed_cycle = stored_cycle(agreement, source, segment)
    if typed_cycle is not None:
        window = arrival_window(start, end, Duration.parse(typed_cycle), calendar)
    elif measured is not None:
        window = arrival_window(start, end, measured[0], calendar, measured_from=measured[1])
    return QuotaAnswer(
        plan=plan,
        period=period,
        period_label=period_label(start, period),
        business_days=business_days,
        mqls_per_day=plan.mqls_per_business_day(business_days) if business_days else plan.mqls,
        source=source,
        segment=segment,
        from_agreement=tuple(from_agreement),
        scaled_from=scaled_from,
        agreement_name=agreement.agreement.name if agreement else None,
        window=window,
    )
