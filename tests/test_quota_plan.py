"""Filling /quota's gaps from the agreement, and the per-business-day need."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.agreement import Agreement
from bot.domain.quota_args import QuotaInputError, parse_quota_args
from bot.domain.quota_plan import plan_quota
from tests.conftest import EXAMPLE_TERMS

AGREEMENT = Agreement.model_validate(EXAMPLE_TERMS)
NOV_23 = date(2026, 11, 23)


def test_month_uses_the_agreements_business_days() -> None:
    answer = plan_quota(parse_quota_args(""), AGREEMENT, NOV_23)
    # November 2026 has 21 weekdays; US holidays take Veterans Day (11th) and Thanksgiving (26th)
    assert answer.business_days == 19
    assert answer.plan.mqls == 3900
    assert answer.mqls_per_day == 206  # 3,900 / 19 = 205.3, rounded up
    assert answer.period_label == "November 2026"
    assert answer.from_agreement == ("quota", "aov", "win", "sql2opp", "mql2sql")


def test_quarter_scales_the_monthly_quota() -> None:
    answer = plan_quota(parse_quota_args("period=quarter"), AGREEMENT, NOV_23)
    assert answer.plan.quota == 1_500_000 and answer.scaled_from == "month"
    # 750 deals → ⌈750/.23⌉ = 3,261 → ⌈3,261/.82⌉ = 3,977 → ⌈3,977/.34⌉ = 11,698 MQLs
    assert (answer.plan.deals, answer.plan.opportunities, answer.plan.sqls, answer.plan.mqls) == (
        750,
        3261,
        3977,
        11698,
    )
    # Q4 2026: Oct 22 weekdays − Columbus Day = 21; Nov 19; Dec 23 − Christmas − the two
    # closed days (24th, 31st) = 20; 60 in all. 11,698 / 60 = 194.97 → 195
    assert answer.business_days == 60 and answer.mqls_per_day == 195


def test_inline_values_win_over_stored_ones() -> None:
    answer = plan_quota(parse_quota_args("1M win=50%"), AGREEMENT, NOV_23)
    assert answer.plan.deals == 500 and answer.plan.opportunities == 1000
    assert "quota" not in answer.from_agreement and "win" not in answer.from_agreement


def test_without_agreement_every_value_must_be_given() -> None:
    with pytest.raises(QuotaInputError, match=r"missing aov .*, mql2sql .*: give them inline"):
        plan_quota(parse_quota_args("500k win=23% sql2opp=82%"), None, NOV_23)
    answer = plan_quota(
        parse_quota_args("500k aov=2k win=23% sql2opp=82% mql2sql=34%"), None, NOV_23
    )
    assert answer.business_days == 21  # Monday to Friday, no holidays, when nothing is agreed


def test_unknown_source_names_the_known_ones() -> None:
    with pytest.raises(QuotaInputError, match="known sources: outbound, website"):
        plan_quota(parse_quota_args("source=events"), AGREEMENT, NOV_23)
