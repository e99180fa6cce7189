"""By when the MQLs of a period are needed (pure): a lead closes about one sales cycle after it
arrives, so the deals of [start, end) come from the MQLs that arrive one cycle earlier.

A cycle in business days (`40bd`) is counted back over the calendar's business days (a lead
that arrives on day X closes when N business days have passed after X), and its dates are
business days; one in calendar days (`60d`) is plain subtraction."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from bot.domain.business_time import Duration
from bot.domain.calendar import BusinessCalendar, period_bounds, period_label
from bot.domain.pacing import PeriodPosition

MIN_WON = 20  # won leads a measured sales cycle needs: fewer say nothing yet


@dataclass(frozen=True)
class ArrivalWindow:
    """The days the MQLs of a period must arrive in, for a sales cycle."""

    first: date
    last: date  # "by": the last day an MQL can arrive and still close in the period
    cycle: Duration
    measured_from: int | None = None  # won leads the cycle is the median of (None: agreed)


def latest_arrival(close: date, cycle: Duration, calendar: BusinessCalendar) -> date:
    """The last day a lead can arrive and still close by `close` (for a cycle in business
    days, perhaps a day off: a lead arriving on Sunday is worked from Monday)."""
    if cycle.unit == "d":
        return close - timedelta(days=int(cycle.amount))
    day, counted = close, 0
    while counted < int(cycle.amount):
        if calendar.is_business_day(day):
            counted += 1
        day -= timedelta(days=1)
    return day


def arrival_window(
    start: date,
    end: date,
    cycle: Duration,
    calendar: BusinessCalendar,
    *,
    measured_from: int | None = None,
) -> ArrivalWindow:
    """The MQLs that close in [start, end) arrive in the window this returns."""
    day = timedelta(days=1)
    last = latest_arrival(end - day, cycle, calendar)
    first = latest_arrival(start - day, cycle, calendar) + day  # after what closes before
    if cycle.unit == "bd":
        while not calendar.is_business_day(last):  # "by" a business day: the one before
            last -= day
    return ArrivalWindow(first, last, cycle, measured_from)


def median_cycle(days: Sequence[float]) -> tuple[Duration, int] | None:
    """The median days from MQL to won (rounded up) and how many won leads it is the median
    of; None with fewer than MIN_WON of them."""
    if len(days) < MIN_WON:
        return None
    return Duration(math.ceil(statistics.median(days)), "d"), len(days)


def earliest_close(arrival: date, cycle: Duration, calendar: BusinessCalendar) -> date:
    """The day a lead arriving on `arrival` closes, one cycle on (the inverse of
    `latest_arrival`: for business days, the cycle's last business day after arrival)."""
    if cycle.unit == "d":
        return arrival + timedelta(days=int(cycle.amount))
    day, counted = arrival, 0
    while counted < int(cycle.amount):
        day += timedelta(days=1)
        if calendar.is_business_day(day):
            counted += 1
    return day


@dataclass(frozen=True)
class LagWindow:
    """The MQLs arriving now, as the period they will close in sees them."""

    feeds: str  # that period's label ("January 2027")
    window: ArrivalWindow  # the days its MQLs arrive in
    where: PeriodPosition  # the window as a span to pace over: its business days, those done


def lag_window(
    day: date,
    period: str,
    cycle: Duration,
    calendar: BusinessCalendar,
    *,
    measured_from: int | None = None,
) -> LagWindow:
    """The window `day` falls in: the arrivals of the period that MQLs arriving on `day` close
    in, and how many of its business days are behind `day`."""
    start, end = period_bounds(earliest_close(day, cycle, calendar), period)
    window = arrival_window(start, end, cycle, calendar, measured_from=measured_from)
    after = window.last + timedelta(days=1)
    total = calendar.business_days(window.first, after)
    where = PeriodPosition(
        start=window.first,
        end=after,
        label=period_label(start, period),
        business_days=total,
        completed=min(total, calendar.business_days(window.first, day)),
    )
    return LagWindow(where.label, window, where)
