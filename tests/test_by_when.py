"""By when: the MQLs of a period arrive one sales cycle earlier — a cycle set in the agreement
or measured from the won leads — counted by hand, in calendar days and in business days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from bot.domain.agreement_file import AgreementFileError, parse_agreement
from bot.domain.business_time import Duration
from bot.domain.by_when import arrival_window
from bot.domain.calendar import BusinessCalendar

US = BusinessCalendar(holidays="US")


def test_march_needs_januarys_mqls_with_a_sixty_day_cycle() -> None:
    """31 March − 60 days = 30 January; a lead of 31 December closes on 1 March."""
    window = arrival_window(date(2027, 3, 1), date(2027, 4, 1), Duration.parse("60d"), US)
    assert (window.first, window.last) == (date(2026, 12, 31), date(2027, 1, 30))


def test_a_cycle_in_business_days_skips_weekends_and_holidays() -> None:
    """December 2026, 5bd. Back from Thu 31 Dec: 31, 30, 29, 28 and (Christmas off) Thu 24:
    a lead of Wed 23 Dec closes on the 31st. Back from Mon 30 Nov: 30, 27, (Thanksgiving off)
    25, 24, 23: a lead of Sun 22 Nov closes on 30 Nov, one of Mon 23 Nov on 1 Dec."""
    window = arrival_window(date(2026, 12, 1), date(2027, 1, 1), Duration.parse("5bd"), US)
    assert (window.first, window.last) == (date(2026, 11, 23), date(2026, 12, 23))


def test_a_cycle_is_days_long() -> None:
    text = _example()
    with pytest.raises(AgreementFileError, match="a sales cycle is days long"):
        parse_agreement(text.replace("win = 0.23\n", 'win = 0.23\ncycle = "4h"\n', 1))
    agreed = parse_agreement(text.replace("win = 0.23\n", 'win = 0.23\ncycle = "30d"\n', 1))
    assert agreed.funnel.cycle == "30d"


def _example() -> str:
    from pathlib import Path

    return (Path(__file__).resolve().parent.parent / "examples" / "sla.toml").read_text()


def test_quota_measures_the_cycle_from_the_won_leads(engine: Engine) -> None:
    """No cycle in the agreement: 20 won leads that took 10, 11, … 29 days have a median of
    19.5 days, rounded up to 20d; November 2026's MQLs arrive 12 Oct – 10 Nov. With 19 won
    leads there is too little to say."""
    from bot.domain.leads import LeadRecord
    from bot.domain.quota_args import parse_quota_args
    from bot.services.agreements import apply_agreement
    from bot.services.quota import answer_quota
    from storage.ingest import upsert_leads

    apply_agreement(engine, _example(), now=datetime(2026, 11, 2, tzinfo=UTC))
    start = datetime(2026, 6, 1, 15, tzinfo=UTC)

    def won(count: int) -> None:
        with engine.begin() as connection:
            upsert_leads(connection, [
                LeadRecord(f"W{days}", {"mql_at": start, "closed_at": start + timedelta(days=days),
                                        "outcome": "won", "stage": "won"})
                for days in range(10, 10 + count)
            ], source_system="native", origin="import")  # fmt: skip

    now = datetime(2026, 11, 18, 15, tzinfo=UTC)
    won(19)
    assert answer_quota(engine, parse_quota_args(""), now=now).window is None
    won(20)
    window = answer_quota(engine, parse_quota_args(""), now=now).window
    assert window is not None
    assert (window.cycle, window.measured_from) == (Duration(20, "d"), 20)
    assert (window.first, window.last) == (date(2026, 10, 12), date(2026, 11, 10))
