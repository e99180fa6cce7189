"""Quota math: walk a revenue quota back through the funnel (DESIGN.md "Quota math").

All arithmetic is exact (``Fraction``) so that a rounding step never lands on the wrong side of
a whole number: 1,326 SQLs at a 34 % MQL→SQL rate is exactly 3,900 MQLs, not 3,901.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class FunnelRates:
    """Average deal size and the three conversion rates, each a fraction in (0, 1]."""

    aov: Fraction
    win: Fraction
    sql_to_opp: Fraction
    mql_to_sql: Fraction


@dataclass(frozen=True)
class FunnelPlan:
    """How many of each stage a quota needs, rounded up at every step."""

    quota: Fraction
    rates: FunnelRates
    deals: int
    opportunities: int
    sqls: int
    mqls: int

    @property
    def value_per_mql(self) -> Fraction:
        return self.quota / self.mqls

    def mqls_per_business_day(self, business_days: int) -> int:
        """MQLs to deliver on each business day, rounded up so the plan is never short."""
        return math.ceil(Fraction(self.mqls, business_days))


def _ceil(value: Fraction) -> int:
    return math.ceil(value)


def reverse_funnel(quota: Fraction, rates: FunnelRates) -> FunnelPlan:
    """Deals = ⌈quota ÷ AOV⌉, then ⌈÷ win⌉, ⌈÷ SQL→opp⌉, ⌈÷ MQL→SQL⌉."""
    if quota <= 0 or rates.aov <= 0:
        raise ValueError("quota and average deal size must be positive")
    for rate in (rates.win, rates.sql_to_opp, rates.mql_to_sql):
        if not 0 < rate <= 1:
            raise ValueError("conversion rates must be in (0, 1]")
    deals = _ceil(quota / rates.aov)
    opportunities = _ceil(deals / rates.win)
    sqls = _ceil(opportunities / rates.sql_to_opp)
    mqls = _ceil(sqls / rates.mql_to_sql)
    return FunnelPlan(quota, rates, deals, opportunities, sqls, mqls)
