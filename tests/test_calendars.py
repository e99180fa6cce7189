"""Holiday calendars of the real world: per team and per rep, countries, subdivisions and
financial markets, `closed` adding days and `open` removing holidays. Expected dates are the
published ones (German and Scottish public holidays, the NYSE's closures)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.agreement_file import AgreementFileError, parse_agreement
from bot.domain.business_time import business_time_between
from bot.domain.calendar import BusinessCalendar, check_holidays
from tests.cli_runner import run_slabot

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sla.toml"
BERLIN_TEAM = """
[[teams]]
name = "dach"
channel = "C0DACH"
standup = "09:30"
timezone = "Europe/Berlin"
holidays = "DE-SN"
open = [2027-05-06]
closed = [2027-06-11]
"""
REP = """
[[reps]]
email = "ewan@example.com"
team = "na"
timezone = "Europe/London"
holidays = "GB-SCT"
"""


def agreement(extra: str = BERLIN_TEAM + REP):  # type: ignore[no-untyped-def]
    return parse_agreement(EXAMPLE.read_text() + extra)


def test_a_berlin_team_keeps_german_holidays_not_american_ones() -> None:
    dach = agreement().team_calendar("dach")
    assert dach.closed_reason(date(2026, 11, 26)) is None  # US Thanksgiving: a workday
    assert dach.closed_reason(date(2027, 3, 29)) == "Easter Monday"
    assert dach.closed_reason(date(2027, 5, 17)) == "Pentecost Monday"  # Whit Monday
    assert dach.closed_reason(date(2026, 11, 18)) == "Repentance and Prayer Day"  # Saxony only
    assert dach.closed_reason(date(2027, 5, 6)) is None  # Ascension, opened by the team
    assert dach.closed_reason(date(2027, 6, 11)) == "closed"  # the team's own closed day
    assert dach.closed_reason(date(2026, 12, 24)) == "closed"  # the agreement's closed days
    na = agreement().team_calendar("na")
    assert na.closed_reason(date(2026, 11, 26)) == "Thanksgiving Day"
    assert na.closed_reason(date(2027, 3, 29)) is None
    assert na.closed_reason(date(2027, 6, 11)) is None  # another team's closed day


def test_a_rep_follows_their_own_holidays() -> None:
    ewan = agreement().rep_calendar("ewan@example.com")
    assert ewan.closed_reason(date(2026, 11, 30)) == "Saint Andrew's Day"
    assert ewan.closed_reason(date(2026, 11, 26)) is None  # not his team's Thanksgiving
    # a lead assigned to him on Friday afternoon waits over St Andrew's Day: 4 business hours
    # are Friday 16:00–17:00 and Tuesday 09:00–12:00 London time
    start = datetime.fromisoformat("2026-11-27T16:00+00:00")
    tuesday_noon = datetime.fromisoformat("2026-12-01T12:00+00:00")
    assert business_time_between(ewan, start, tuesday_noon).total_seconds() == 4 * 3600


def test_a_financial_calendar() -> None:
    nyse = BusinessCalendar(timezone="America/New_York", holidays=check_holidays("nyse"))
    assert nyse.closed_reason(date(2026, 4, 3)) == "Good Friday"
    assert nyse.closed_reason(date(2026, 10, 12)) is None  # Columbus Day: the market is open
    assert BusinessCalendar(holidays="US").closed_reason(date(2026, 10, 12)) == "Columbus Day"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("DE-XX", "DE has no subdivision 'XX'; it has DE-BB, DE-BE"),
        ("Narnia", "is not a country (US, DE), a subdivision (DE-SN, GB-SCT) or a market"),
    ],
)
def test_an_unknown_calendar_is_refused_with_what_exists(spec: str, message: str) -> None:
    with pytest.raises(AgreementFileError) as refused:
        agreement(BERLIN_TEAM.replace('"DE-SN"', f'"{spec}"'))
    assert message in str([problem.message for problem in refused.value.problems])


def test_subdivisions_are_spelled_as_the_package_spells_them() -> None:
    assert check_holidays("gb-sct") == "GB-SCT"
    assert check_holidays(" de-sn ") == "DE-SN"
    assert check_holidays("") == ""


SPECS = ["US", "DE", "DE-SN", "DE-BY", "GB-SCT", "GB-ENG", "NYSE", "FR", "AU-NSW", ""]


@given(
    spec=st.sampled_from(SPECS),
    day=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
)
def test_open_removes_exactly_the_holiday_and_closed_always_closes(spec: str, day: date) -> None:
    plain = BusinessCalendar(holidays=spec)
    opened = BusinessCalendar(holidays=spec, opened=frozenset({day}))
    closed = BusinessCalendar(holidays=spec, closed=frozenset({day}))
    weekend = day.weekday() >= 5
    assert opened.is_business_day(day) == (not weekend)
    assert not closed.is_business_day(day)
    if plain.holiday_name(day) is None:
        assert opened.closed_reason(day) == plain.closed_reason(day)


def test_slabot_schedule_follows_the_team_calendar(tmp_path: Path) -> None:
    import os

    path = tmp_path / "sla.toml"
    path.write_text(EXAMPLE.read_text() + BERLIN_TEAM)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SLABOT_"))}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "COLUMNS": "200"}

    def slabot(*args: str) -> str:
        done = run_slabot(*args, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    slabot("sla", "apply", str(path))
    days = slabot("schedule", "--team", "dach", "--days", "15", "--from", "2027-05-03")
    lines = {line[:10]: line for line in days.splitlines()}
    assert "09:30 CEST (Europe/Berlin)" in lines["2027-05-06"]  # Ascension, opened
    assert "Pentecost Monday" in lines["2027-05-17"]
    assert "Labor Day" not in days  # 1 May 2027 is a Saturday: a weekend, as it says
    assert "skipped" not in lines["2027-05-14"]
