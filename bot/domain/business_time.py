"""Business time: add business minutes to an instant, measure business time between two.

A clock runs only inside a calendar's working hours on its business days; an instant outside
them waits for the next opening. All arithmetic happens on UTC instants, each day's window is
placed with `zoneinfo`, so a DST change moves the window, never the length of an hour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from bot.domain.calendar import BusinessCalendar

SEARCH_DAYS = 3660  # a calendar with no business day in ten years is a configuration error
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|bd|d)\s*$")
_CADENCE = re.compile(r"^\s*(\d+)\s+in\s+(\d+(?:\.\d+)?\s*(?:m|h|bd|d))\s*$")


class NoBusinessTime(ValueError):
    """The calendar has no working time in reach (every day closed)."""


def window(calendar: BusinessCalendar, day: date) -> tuple[datetime, datetime] | None:
    """The UTC [open, close) of `day` in `calendar`, or None when it is not a business day
    (memoised per calendar: a scan asks for the same few days thousands of times)."""
    memo = calendar.windows
    if day in memo:
        return memo[day]
    hours = None
    if calendar.is_business_day(day):
        tz = calendar.tz
        hours = (
            datetime.combine(day, calendar.opens, tz).astimezone(UTC),
            datetime.combine(day, calendar.closes, tz).astimezone(UTC),
        )
    if len(memo) > 20_000:
        memo.clear()
    memo[day] = hours
    return hours


def _days_from(calendar: BusinessCalendar, instant: datetime):
    day = instant.astimezone(calendar.tz).date() - timedelta(days=1)  # a window may start late
    for offset in range(SEARCH_DAYS):
        hours = window(calendar, day + timedelta(days=offset))
        if hours is not None:
            yield hours
    raise NoBusinessTime(f"no business day within {SEARCH_DAYS} days in {calendar.timezone}")


def add_business_time(calendar: BusinessCalendar, start: datetime, amount: timedelta) -> datetime:
    """The instant at which `amount` of business time has run from `start` (a start outside
    working hours starts the clock at the next opening)."""
    cursor = start.astimezone(UTC)
    remaining = amount
    for opens, closes in _days_from(calendar, cursor):
        if closes <= cursor:
            continue
        begin = max(cursor, opens)
        if remaining <= closes - begin:
            return begin + remaining
        remaining -= closes - begin
    raise AssertionError("unreachable")  # pragma: no cover


def next_open(calendar: BusinessCalendar, instant: datetime) -> datetime:
    """`instant` itself when it is working time, else the next opening."""
    return add_business_time(calendar, instant, timedelta(0))


def is_open(calendar: BusinessCalendar, instant: datetime) -> bool:
    hours = window(calendar, instant.astimezone(calendar.tz).date())
    return hours is not None and hours[0] <= instant < hours[1]


def business_time_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """Business time in [start, end); zero when `end` is not after `start`."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = timedelta(0)
    if end <= start:
        return total
    day = start.astimezone(calendar.tz).date() - timedelta(days=1)
    last = end.astimezone(calendar.tz).date()
    while day <= last:
        hours = window(calendar, day)
        if hours is not None:
            overlap = min(end, hours[1]) - max(start, hours[0])
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total


@dataclass(frozen=True)
class Duration:
    """An agreement duration: `m`/`h` business time, `bd` business days, `d` calendar days."""

    amount: float
    unit: str

    @classmethod
    def parse(cls, text: str) -> Duration:
        return _parse_duration(text)

    def business_length(self, calendar: BusinessCalendar) -> timedelta:
        """The business time this duration stands for (a business day is one day's hours)."""
        if self.unit == "m":
            return timedelta(minutes=self.amount)
        if self.unit == "h":
            return timedelta(hours=self.amount)
        day = datetime.combine(date.min, calendar.closes) - datetime.combine(
            date.min, calendar.opens
        )
        return day * self.amount

    def after(self, calendar: BusinessCalendar, start: datetime, fraction: float = 1.0) -> datetime:
        """When `fraction` of this duration has run from `start`."""
        if self.unit == "d":
            return start.astimezone(UTC) + timedelta(days=self.amount) * fraction
        return add_business_time(calendar, start, self.business_length(calendar) * fraction)

    def __str__(self) -> str:
        return f"{self.amount:g}{self.unit}"


@dataclass(frozen=True)
class Cadence:
    """A follow-up rule: `count` touches within `window` of the hand-off ("3 in 14d")."""

    count: int
    window: Duration

    @classmethod
    def parse(cls, text: str) -> Cadence:
        match = _CADENCE.match(text)
        if not match:
            raise ValueError(f'{text!r} is not a cadence rule; write it like "3 in 14d"')
        return cls(int(match.group(1)), Duration.parse(match.group(2)))

    @property
    def rule(self) -> str:
        """Its clock's rule name: follow_up:3in14d."""
        return f"follow_up:{self.count}in{self.window}"


@lru_cache(maxsize=256)
def _parse_duration(text: str) -> Duration:
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30m, 4h, 2bd or 14d")
    return Duration(float(match.group(1)), match.group(2))


def latest_start_due_by(
    calendar: BusinessCalendar, window: Duration, instant: datetime
) -> datetime:
    """The latest start whose `window` has run out by `instant` (to the minute): a lead handed
    off at or before it is past its window. Deadlines only move later with a later start, so
    a binary search over the 60 days before finds it."""
    low, high = instant - timedelta(days=60), instant  # due by `instant`, and not
    if window.after(calendar, low) > instant:
        return low
    while high - low > timedelta(minutes=1):
        middle = low + (high - low) / 2
        if window.after(calendar, middle) <= instant:
            low = middle
        else:
            high = middle
    return low
