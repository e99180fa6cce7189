"""Pacing against the SLA targets, exactly as DESIGN.md "Pacing definitions" defines it.

Pure: counts come in, exact figures come out (fractions; rounding is for display only).
For a digest date D in the team's timezone:

- actual-to-date: leads whose stage time falls in [period start, D 00:00)
- completed business days: business days of the period strictly before D
- expected-to-date = target × completed ÷ business days in the period
- pace = actual ÷ expected; on track within ±tolerance, ahead above, behind below
- projection = actual ÷ completed × business days in the period
- needed per remaining business day = max(0, target − actual) ÷ (business days − completed)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from fractions import Fraction

from bot.domain.calendar import BusinessCalendar, period_bounds, period_label


class PaceStatus(StrEnum):
    AHEAD = "ahead"
    ON_TRACK = "on track"
    BEHIND = "behind"
    NOT_STARTED = "not started"  # the period's first business day: nothing expected yet
    NO_TARGET = "no target"


@dataclass(frozen=True)
class PeriodPosition:
    """Where D stands in its period."""

    start: date
    end: date  # exclusive
    label: str
    business_days: int
    completed: int  # business days of the period strictly before D

    @property
    def remaining(self) -> int:
        return self.business_days - self.completed

    @property
    def share_elapsed(self) -> Fraction:
        return Fraction(self.completed, self.business_days) if self.business_days else Fraction(0)


def position(calendar: BusinessCalendar, period: str, day: date) -> PeriodPosition:
    start, end = period_bounds(day, period)
    return PeriodPosition(
        start=start,
        end=end,
        label=period_label(start, period),
        business_days=calendar.business_days(start, end),
        completed=calendar.business_days(start, day),
    )


def closing_position(calendar: BusinessCalendar, period: str, day: date) -> PeriodPosition:
    """The whole period that ended just before the one containing `day` (all days completed)."""
    start = period_bounds(day, period)[0]
    previous = position(calendar, period, start - timedelta(days=1))
    days = calendar.business_days(previous.start, previous.end)
    return PeriodPosition(previous.start, previous.end, previous.label, days, days)


def is_first_business_day(calendar: BusinessCalendar, period: str, day: date) -> bool:
    """The digest closes the previous period on this day."""
    return calendar.is_business_day(day) and position(calendar, period, day).completed == 0


def midnight(calendar: BusinessCalendar, day: date) -> datetime:
    """D 00:00 in the calendar's timezone, as an aware instant (zoneinfo handles DST)."""
    return datetime.combine(day, time(0), tzinfo=calendar.tz)


def previous_business_day(calendar: BusinessCalendar, day: date) -> date:
    """The last business day before `day` (the window "yesterday's movement" starts on)."""
    candidate = day - timedelta(days=1)
    for _ in range(366):
        if calendar.is_business_day(candidate):
            return candidate
        candidate -= timedelta(days=1)
    return day - timedelta(days=1)  # a calendar with no business days at all


def next_business_day(calendar: BusinessCalendar, day: date) -> date:
    """`day` if it is a business day, else the first one after it (the next stand-up)."""
    for offset in range(366):
        if calendar.is_business_day(day + timedelta(days=offset)):
            return day + timedelta(days=offset)
    return day


@dataclass(frozen=True)
class Pace:
    """One number paced against its target (MQLs, SQLs, or one source's MQLs)."""

    name: str
    actual: int
    target: Fraction | None
    where: PeriodPosition
    tolerance: Fraction

    @property
    def expected(self) -> Fraction | None:
        if self.target is None or not self.where.business_days:
            return None
        return self.target * self.where.completed / self.where.business_days

    @property
    def pace(self) -> Fraction | None:
        expected = self.expected
        return Fraction(self.actual) / expected if expected else None

    @property
    def status(self) -> PaceStatus:
        if self.target is None:
            return PaceStatus.NO_TARGET
        pace = self.pace
        if pace is None:
            return PaceStatus.NOT_STARTED
        if pace > 1 + self.tolerance:
            return PaceStatus.AHEAD
        if pace < 1 - self.tolerance:
            return PaceStatus.BEHIND
        return PaceStatus.ON_TRACK

    @property
    def projection(self) -> Fraction | None:
        if not self.where.completed:
            return None
        return Fraction(self.actual) / self.where.completed * self.where.business_days

    @property
    def gap(self) -> Fraction | None:
        """How far actual is behind expected (negative when ahead)."""
        expected = self.expected
        return None if expected is None else expected - self.actual

    @property
    def needed_per_day(self) -> Fraction | None:
        if self.target is None or not self.where.remaining:
            return None
        return max(Fraction(0), self.target - self.actual) / self.where.remaining

    @property
    def share_of_target(self) -> Fraction | None:
        return Fraction(self.actual) / self.target if self.target else None


def split_target(target: int | None, shares: dict[str, float], source: str) -> Fraction | None:
    """A source's part of the target, from the agreement's split (exact decimal shares)."""
    if target is None or source not in shares:
        return None
    return target * Fraction(str(shares[source]))


def rate(part: int, whole: int) -> Fraction | None:
    return Fraction(part, whole) if whole else None


def compare_rate(
    actual: Fraction | None, assumed: Fraction | None, tolerance: Fraction
) -> PaceStatus | None:
    """A conversion rate against the agreement's assumption, with the same tolerance."""
    if actual is None or not assumed:
        return None
    ratio = actual / assumed
    if ratio > 1 + tolerance:
        return PaceStatus.AHEAD
    if ratio < 1 - tolerance:
        return PaceStatus.BEHIND
    return PaceStatus.ON_TRACK
