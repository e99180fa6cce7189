"""By when the MQLs of a period are needed (pure): a lead closes about one sales cycle after it
arrives, so the deals of [start, end) come from the MQLs that arrive one cycle earlier.

A cycle in business days (`40bd`) is counted back over the calendar's business days (a lead
that arrives on day X closes when N business days have passed after X), and its dates are
business days; one in calendar days (`60d`) is plain subtraction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.domain.business_time import Duration
from bot.domain.calendar import BusinessCalendar


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
