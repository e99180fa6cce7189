"""The forecast: the chance of reaching a target from the spread of the business days so far,
against a hand computation (README, "The stand-up digest": the method)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.domain.calendar import BusinessCalendar
from bot.domain.forecast import forecast, per_business_day

EXAMPLE = (Path(__file__).resolve().parent.parent / "examples" / "sla.toml").read_text()


def test_a_small_series_by_hand() -> None:
    """Days 10, 14, 12, 8, 16: μ = 12, s = √(40/4) = √10. 15 days left: expected 60 + 180 =
    240, spread √10·√15 = 12.247; P(≥ 250) = 1 − Φ(10 / 12.247) = 1 − Φ(0.8165) = 0.2071;
    likely (central 80 %, z = 1.2816): 240 ± 15.70 = 224.3 – 255.7."""
    found = forecast([10, 14, 12, 8, 16], actual=60, remaining=15, target=250)
    assert found is not None
    assert found.expected == 240 and found.days == 5
    assert found.chance == pytest.approx(0.2071, abs=1e-4)
    assert (found.low, found.high) == (
        pytest.approx(224.30, abs=0.01),
        pytest.approx(255.70, abs=0.01),
    )


def test_too_few_days_or_no_spread() -> None:
    assert forecast([12], actual=12, remaining=18, target=250) is None
    flat = forecast([12, 12, 12], actual=36, remaining=17, target=240)
    assert flat is not None and (flat.chance, flat.low, flat.high) == (1.0, 240, 240)


def test_a_weekends_mqls_count_with_the_monday_after() -> None:
    days = [date(2026, 11, 6) + timedelta(days=n) for n in range(4)]  # Fri, Sat, Sun, Mon
    assert per_business_day([5, 2, 1, 7], days, BusinessCalendar()) == [5, 10]


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def test_the_digest_forecasts_each_target(engine: Engine) -> None:
    """November 2026 (19 business days); by Monday 9th, 2–6 November are done with 10, 14,
    12, 8 and 16 MQLs: 14 days left, expected 60 + 12·14 = 228, spread √10·√14 = 11.832;
    against a target of 250: 1 − Φ(22 / 11.832) = 1 − Φ(1.8594) = 0.0315.
    SQLs 3, 5, 4, 2, 6 (μ 4, s √2.5) against 80: 20 + 56 = 76, spread √2.5·√14 = 5.916,
    1 − Φ(4 / 5.916) = 0.2495. Half of each day's MQLs are outbound (5, 7, 6, 4, 8: μ 6,
    s √2.5), its share 40 % of 250 = 100: 30 + 84 = 114, Φ(14 / 5.916) = 0.9910."""
    from bot.domain.leads import LeadRecord
    from bot.services.agreements import apply_agreement
    from bot.services.digest import compute_digest
    from storage.ingest import upsert_leads

    text = EXAMPLE.replace("mql_target = 3900", "mql_target = 250")
    apply_agreement(engine, text.replace("sql_target = 1326", "sql_target = 80"),
                    now=datetime(2026, 11, 2, tzinfo=UTC))  # fmt: skip
    leads = []
    for offset, (count, sqls) in enumerate(((10, 3), (14, 5), (12, 4), (8, 2), (16, 6))):
        at = datetime(2026, 11, 2 + offset, 16, tzinfo=UTC)  # 11:00 in New York
        leads += [
            LeadRecord(f"D{offset}-{n}", {
                "mql_at": at, "stage": "sql" if n < sqls else "mql",
                "source": "outbound" if n < count // 2 else "website",
                **({"sql_at": at + timedelta(hours=1)} if n < sqls else {}),
            })
            for n in range(count)
        ]  # fmt: skip
    with engine.begin() as connection:
        upsert_leads(connection, leads, source_system="native", origin="import")
    digest = compute_digest(engine, team="na", day=date(2026, 11, 9),
                            now=datetime(2026, 11, 9, 15, tzinfo=UTC))  # fmt: skip
    mqls, sqls = digest.forecasts["MQLs"], digest.forecasts["SQLs"]
    assert mqls.days == 5 and mqls.expected == 228
    assert mqls.chance == pytest.approx(1 - _phi(22 / (math.sqrt(10) * math.sqrt(14))))
    assert mqls.chance == pytest.approx(0.0315, abs=1e-4)
    assert sqls.expected == 76
    assert sqls.chance == pytest.approx(0.2495, abs=1e-4)
    assert digest.forecasts["outbound"].expected == 114
    assert digest.forecasts["outbound"].chance == pytest.approx(0.9910, abs=1e-4)


def test_the_burn_up_projects_the_forecast_day_by_day(engine: Engine) -> None:
    """The same MQLs: from Monday 9th, each business day adds μ = 12 and widens the likely
    range by √k: the end of the 9th is 72 ± 1.2816·√10 = 72 ± 4.053; Veterans Day (11th)
    repeats the 10th and Saturday 14th repeats Friday 13th (four days: 9, 10, 12, 13 — 108 ±
    1.2816·√40 = 108 ± 8.106); the 30th, 14 days on, is the forecast's own 228 and its likely
    range."""
    from bot.domain.leads import LeadRecord
    from bot.services.agreements import apply_agreement
    from bot.services.digest import compute_digest
    from bot.slack.chart import burnup_png
    from storage.ingest import upsert_leads

    apply_agreement(engine, EXAMPLE.replace("mql_target = 3900", "mql_target = 250"),
                    now=datetime(2026, 11, 2, tzinfo=UTC))  # fmt: skip
    leads = []
    for offset, count in enumerate((10, 14, 12, 8, 16)):
        at = datetime(2026, 11, 2 + offset, 16, tzinfo=UTC)
        leads += [LeadRecord(f"D{offset}-{n}", {"mql_at": at, "stage": "mql"})
                  for n in range(count)]  # fmt: skip
    with engine.begin() as connection:
        upsert_leads(connection, leads, source_system="native", origin="import")
    digest = compute_digest(engine, team="na", day=date(2026, 11, 9),
                            now=datetime(2026, 11, 9, 15, tzinfo=UTC))  # fmt: skip
    burnup = digest.burnup
    assert len(burnup.projection) == 22  # 9–30 November
    expected, low, high = burnup.projection[0]
    assert (expected, low, high) == pytest.approx((72, 72 - 4.053, 72 + 4.053), abs=1e-3)
    assert burnup.projection[2] == burnup.projection[1]  # a holiday adds nothing
    assert burnup.projection[5] == burnup.projection[4]  # nor does a Saturday
    assert burnup.projection[4] == pytest.approx((108, 108 - 8.106, 108 + 8.106), abs=1e-3)
    found = digest.forecasts["MQLs"]
    assert burnup.projection[-1] == pytest.approx((228, found.low, found.high))
    assert burnup_png(burnup).startswith(b"\x89PNG")


def test_the_digest_puts_a_value_on_the_breached_leads(engine: Engine) -> None:
    """Each breached lead is worth an MQL of its source: website the blended funnel's
    500,000 ÷ 3,900 = $128.21; outbound its own (win 18 %, MQL→SQL 30 %): 250 deals,
    ⌈250 ÷ 0.18⌉ = 1,389 opportunities, ⌈1,389 ÷ 0.82⌉ = 1,694 SQLs, ⌈1,694 ÷ 0.30⌉ = 5,647
    MQLs, 500,000 ÷ 5,647 = $88.54. Two website leads and one outbound: $344.95."""
    from fractions import Fraction

    from bot.domain.leads import LeadRecord
    from bot.services.agreements import apply_agreement
    from bot.services.digest import compute_digest
    from storage.ingest import upsert_leads

    apply_agreement(engine, EXAMPLE, now=datetime(2026, 11, 2, tzinfo=UTC))
    at = datetime(2026, 11, 3, 15, tzinfo=UTC)
    with engine.begin() as connection:
        upsert_leads(connection, [
            LeadRecord(name, {"mql_at": at, "assigned_at": at, "stage": "mql", "source": source,
                              "owner_email": "rita@example.com"})
            for name, source in (("W1", "website"), ("W2", "website"), ("O1", "outbound"))
        ], source_system="native", origin="import")  # fmt: skip
    digest = compute_digest(engine, team="na", day=date(2026, 11, 9),
                            now=datetime(2026, 11, 9, 15, tzinfo=UTC))  # fmt: skip
    expected = 2 * Fraction(500_000, 3_900) + Fraction(500_000, 5_647)
    assert digest.at_risk == expected
    assert float(expected) == pytest.approx(344.95, abs=0.01)
