"""Quota math: hand-computed cases and properties."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.funnel import FunnelRates, reverse_funnel


def rates(aov: int, win: str, sql_to_opp: str, mql_to_sql: str) -> FunnelRates:
    return FunnelRates(Fraction(aov), Fraction(win), Fraction(sql_to_opp), Fraction(mql_to_sql))


@pytest.mark.parametrize(
    ("quota", "funnel", "expected"),
    [
        # DOMAIN.md's worked example: 500,000 / 2,000 = 250; 250 / .23 = 1,086.96 → 1,087;
        # 1,087 / .82 = 1,325.6 → 1,326; 1,326 / .34 = 3,900 exactly (a float gives 3,899.99…).
        (500_000, rates(2000, "0.23", "0.82", "0.34"), (250, 1087, 1326, 3900)),
        # 1,200,000 / 15,000 = 80; 80 / .2 = 400; 400 / .5 = 800; 800 / .25 = 3,200
        (1_200_000, rates(15000, "0.2", "0.5", "0.25"), (80, 400, 800, 3200)),
        # 100,001 / 1,000 = 100.001 → 101 deals; 101 / 1 = 101; 101 / .9 = 112.2 → 113;
        # 113 / .7 = 161.4 → 162
        (100_001, rates(1000, "1", "0.9", "0.7"), (101, 101, 113, 162)),
        # an AOV larger than the quota still needs one deal: 1 / .5 = 2; 2 / .5 = 4; 4 / .5 = 8
        (1_000, rates(5000, "0.5", "0.5", "0.5"), (1, 2, 4, 8)),
    ],
)
def test_hand_computed_plans(quota: int, funnel: FunnelRates, expected: tuple) -> None:
    plan = reverse_funnel(Fraction(quota), funnel)
    assert (plan.deals, plan.opportunities, plan.sqls, plan.mqls) == expected


def test_value_per_mql_and_daily_need() -> None:
    plan = reverse_funnel(Fraction(500_000), rates(2000, "0.23", "0.82", "0.34"))
    assert plan.value_per_mql == Fraction(500_000, 3900)  # $128.21
    assert plan.mqls_per_business_day(20) == 195  # 3,900 / 20
    assert plan.mqls_per_business_day(21) == 186  # 185.7 rounded up


@pytest.mark.parametrize("bad", [Fraction(0), Fraction(-1)])
def test_rejects_non_positive_quota(bad: Fraction) -> None:
    with pytest.raises(ValueError):
        reverse_funnel(bad, rates(2000, "0.23", "0.82", "0.34"))


percent = st.integers(min_value=1, max_value=100).map(lambda p: Fraction(p, 100))
funnels = st.builds(FunnelRates, st.integers(1, 100_000).map(Fraction), percent, percent, percent)
quotas = st.integers(min_value=1, max_value=10**9).map(Fraction)


@given(quotas, quotas, funnels)
def test_monotonic_in_quota(a: Fraction, b: Fraction, funnel: FunnelRates) -> None:
    low, high = sorted((a, b))
    p, q = reverse_funnel(low, funnel), reverse_funnel(high, funnel)
    assert p.deals <= q.deals and p.opportunities <= q.opportunities
    assert p.sqls <= q.sqls and p.mqls <= q.mqls


@given(quotas, funnels)
def test_never_under_delivers_and_never_over_asks(quota: Fraction, funnel: FunnelRates) -> None:
    plan = reverse_funnel(quota, funnel)
    # enough at every step …
    assert plan.deals * funnel.aov >= quota
    assert plan.opportunities * funnel.win >= plan.deals
    assert plan.sqls * funnel.sql_to_opp >= plan.opportunities
    assert plan.mqls * funnel.mql_to_sql >= plan.sqls
    assert plan.mqls * funnel.mql_to_sql * funnel.sql_to_opp * funnel.win * funnel.aov >= quota
    # … and one fewer would not be
    assert (plan.deals - 1) * funnel.aov < quota
    assert (plan.mqls - 1) * funnel.mql_to_sql < plan.sqls
    assert plan.mqls == math.ceil(plan.sqls / funnel.mql_to_sql)
