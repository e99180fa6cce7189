"""The chance of reaching a target (pure): the period's business days so far are a sample of
what a business day brings, and the days left are that many more draws.

Each business day's MQLs (those of the days off before it counted with it) are one value;
their mean μ and sample standard deviation s, over n ≥ 2 days, project the r days left as a
normal sum: total ≈ N(actual + μ·r, s·√r). The chance is P(total ≥ target); "likely" is the
central 80 % of that distribution."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.domain.calendar import BusinessCalendar

LIKELY = 0.80  # the share of outcomes "likely" spans
MIN_DAYS = 2  # a spread needs two days at least


@dataclass(frozen=True)
class Forecast:
    chance: float  # of reaching the target, 0..1
    expected: float  # the period's total, projected
    low: float  # the likely range of the total
    high: float
    days: int  # business days the spread was measured over
    actual: float = 0.0  # the total so far
    mean: float = 0.0  # a business day's count: its mean and sample standard deviation
    stdev: float = 0.0

    def after(self, days: int) -> tuple[float, float, float]:
        """The total projected after `days` more business days, and its likely range: the
        projection line and its band on the burn-up chart."""
        expected = self.actual + self.mean * days
        spread = self.stdev * math.sqrt(days)
        if spread == 0:
            return expected, expected, expected
        z = statistics.NormalDist().inv_cdf(1 - (1 - LIKELY) / 2)
        return expected, expected - z * spread, expected + z * spread


def per_business_day(
    counts: Sequence[int], days: Sequence[date], calendar: BusinessCalendar
) -> list[int]:
    """Each business day's count, with the counts of the days off before it added to it."""
    found, carried = [], 0
    for count, day in zip(counts, days, strict=True):
        carried += count
        if calendar.is_business_day(day):
            found.append(carried)
            carried = 0
    return found


def forecast(
    per_day: Sequence[int], *, actual: int, remaining: int, target: float
) -> Forecast | None:
    """None with fewer than MIN_DAYS business days behind (nothing to measure a spread on)."""
    if len(per_day) < MIN_DAYS:
        return None
    mean, stdev = statistics.fmean(per_day), statistics.stdev(per_day)
    days = len(per_day)
    spread = stdev * math.sqrt(remaining)
    expected = actual + mean * remaining
    if spread == 0:
        chance = 1.0 if expected >= target else 0.0
        return Forecast(chance, expected, expected, expected, days, actual, mean, stdev)
    total = statistics.NormalDist(expected, spread)
    tail = (1 - LIKELY) / 2
    low, high = total.inv_cdf(tail), total.inv_cdf(1 - tail)
    return Forecast(1 - total.cdf(target), expected, low, high, days, actual, mean, stdev)
