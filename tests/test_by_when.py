"""By when: the MQLs of a period arrive one sales cycle earlier — a cycle set in the agreement
or measured from the won leads — counted by hand, in calendar days and in business days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

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


def test_a_lead_arriving_today_feeds_the_period_one_cycle_on() -> None:
    """Thu 3 Dec 2026 + 30 days = 2 Jan 2027: January's window (2 Dec – 1 Jan). With 19bd,
    forward from the 3rd: 4, 7–11, 14–18, 21–24, (Christmas off) 28–31 is 19 business days:
    Thu 31 Dec, so December's window. Back 19 from 31 Dec: 31–28, 24–21, 18–14, 11–7, 4: a
    lead of the 3rd is the last; back 19 from 30 Nov: 30, 27, (Thanksgiving off) 25–23, 20–16,
    13, 12, (Veterans Day off) 10, 9, 6–2: the first is 2 Nov. One more (20bd) lands on Mon
    4 Jan, past New Year's Day."""
    from bot.domain.by_when import earliest_close, lag_window

    thirty = lag_window(date(2026, 12, 3), "month", Duration.parse("30d"), US)
    assert (thirty.feeds, thirty.window.first, thirty.window.last) == (
        "January 2027",
        date(2026, 12, 2),
        date(2027, 1, 1),
    )
    # Dec 2–31: 22 weekdays, Christmas off; 1 Jan off: 21, of which only the 2nd is done
    assert (thirty.where.business_days, thirty.where.completed) == (21, 1)
    assert earliest_close(date(2026, 12, 3), Duration.parse("19bd"), US) == date(2026, 12, 31)
    assert earliest_close(date(2026, 12, 3), Duration.parse("20bd"), US) == date(2027, 1, 4)
    nineteen = lag_window(date(2026, 12, 3), "month", Duration.parse("19bd"), US)
    assert nineteen.feeds == "December 2026"
    assert (nineteen.window.first, nineteen.window.last) == (date(2026, 11, 2), date(2026, 12, 3))


def _mqls(engine: Engine, rows: list[tuple[str, datetime]]) -> None:
    from bot.domain.leads import LeadRecord
    from storage.ingest import upsert_leads

    with engine.begin() as connection:
        upsert_leads(connection, [
            LeadRecord(ext, {"mql_at": at, "stage": "mql", "source": "website"})
            for ext, at in rows
        ], source_system="native", origin="import")  # fmt: skip


def test_the_digest_paces_the_mqls_of_the_lag_window(engine: Engine) -> None:
    """A 30-day cycle, the morning of Thu 10 Dec: today's MQLs close in January, whose window
    is 2 Dec – 1 Jan. Its business days (the example closes 24 and 31 Dec; Christmas and New
    Year are off): Dec 2–4, 7–11, 14–18, 21–23, 28–30 = 19, of which 6 are done (2–4, 7–9).
    4 MQLs of 2 Dec count; 3 of 1 Dec feed December; 2 of today come after the stand-up.
    Expected 3,900 × 6 / 19 = 1,231.6: 4 is 0.3 % of it; (3,900 − 4) / 13 days left = 299.7."""
    from rich.text import Text

    from bot.services.agreements import apply_agreement
    from bot.services.digest import compute_digest
    from bot.slack.render import Renderer

    text = _example().replace("win = 0.23\n", 'win = 0.23\ncycle = "30d"\n', 1)
    apply_agreement(engine, text, now=datetime(2026, 11, 2, tzinfo=UTC))
    second, first, today = (datetime(2026, 12, d, 15, tzinfo=UTC) for d in (2, 1, 10))
    _mqls(engine, [*((f"A{n}", second) for n in range(4)), *((f"B{n}", first) for n in range(3)),
                   *((f"C{n}", today) for n in range(2))])  # fmt: skip
    digest = compute_digest(engine, team="na", day=date(2026, 12, 10),
                            now=datetime(2026, 12, 10, 14, tzinfo=UTC))  # fmt: skip
    assert digest.lag is not None
    lag = digest.lag
    assert (lag.lag.feeds, lag.lag.window.first, lag.lag.window.last) == (
        "January 2027",
        date(2026, 12, 2),
        date(2027, 1, 1),
    )
    assert (lag.mqls.actual, lag.mqls.target) == (4, 3900)
    assert (lag.mqls.where.business_days, lag.mqls.where.completed) == (19, 6)
    assert lag.mqls.expected == Fraction(3900 * 6, 19)
    assert digest.figures.mqls.actual == 7  # December's own MQLs: 1 and 2 Dec
    shown = Text.from_markup(Renderer().text("digest/terminal.txt.j2", d=digest)).plain
    assert (
        "MQLs for January 2027's deals (arriving 2 Dec–1 Jan, the agreed 30-day cycle): 4 of "
        "3,900 · behind (0.3% of pace) · need 300 a day over the 13 business days left"
    ) in shown, shown


def test_the_lag_window_follows_the_measured_cycle(engine: Engine) -> None:
    """No cycle agreed; 20 won leads of 10 … 29 days: 20d. The morning of 10 Dec, today's MQLs
    close on the 30th: December's window, 11 Nov – 11 Dec. Its business days: Nov 12–13,
    16–20, 23–25, 27, 30 (Veterans Day and Thanksgiving off) = 12, and Dec 1–4, 7–11 = 9: 21,
    of which 19 are done. 2 MQLs of 20 Nov and 3 of 1 Dec count; 1 of 10 Nov does not."""
    from bot.domain.leads import LeadRecord
    from bot.services.agreements import apply_agreement
    from bot.services.digest import compute_digest
    from storage.ingest import upsert_leads

    apply_agreement(engine, _example(), now=datetime(2026, 11, 2, tzinfo=UTC))
    start = datetime(2026, 6, 1, 15, tzinfo=UTC)
    with engine.begin() as connection:
        upsert_leads(connection, [
            LeadRecord(f"W{days}", {"mql_at": start, "closed_at": start + timedelta(days=days),
                                    "outcome": "won", "stage": "won"})
            for days in range(10, 30)
        ], source_system="native", origin="import")  # fmt: skip
    nov20, dec1, nov10 = (datetime(2026, m, d, 15, tzinfo=UTC) for m, d in ((11, 20), (12, 1),
                                                                             (11, 10)))  # fmt: skip
    _mqls(engine, [("A0", nov20), ("A1", nov20), ("B0", dec1), ("B1", dec1), ("B2", dec1),
                   ("C0", nov10)])  # fmt: skip
    lag = compute_digest(engine, team="na", day=date(2026, 12, 10),
                         now=datetime(2026, 12, 10, 14, tzinfo=UTC)).lag  # fmt: skip
    assert lag is not None
    assert (lag.lag.feeds, lag.lag.window.cycle, lag.lag.window.measured_from) == (
        "December 2026",
        Duration(20, "d"),
        20,
    )
    assert (lag.lag.window.first, lag.lag.window.last) == (date(2026, 11, 11), date(2026, 12, 11))
    assert (lag.mqls.actual, lag.mqls.where.business_days, lag.mqls.where.completed) == (5, 21, 19)
