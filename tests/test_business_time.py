"""Business-time arithmetic: hand-computed cases and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.business_time import (
    Duration,
    add_business_time,
    business_time_between,
    is_open,
    next_open,
)
from bot.domain.calendar import BusinessCalendar

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
US = BusinessCalendar(timezone="America/New_York", holidays="US")
BERLIN_CAL = BusinessCalendar(timezone="Europe/Berlin", holidays="DE")
H = timedelta(hours=1)


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def test_friday_afternoon_runs_into_monday() -> None:
    # Friday 2026-11-20 16:00: one hour on Friday, three on Monday → Monday 12:00
    assert add_business_time(US, ny(2026, 11, 20, 16), 4 * H) == ny(2026, 11, 23, 12)


def test_thanksgiving_is_skipped() -> None:
    # Wednesday before Thanksgiving 16:00: 1h Wed, Thu is a holiday, 3h on Friday → 12:00
    due = add_business_time(US, ny(2026, 11, 25, 16), 4 * H)
    assert due == ny(2026, 11, 27, 12)
    assert business_time_between(US, ny(2026, 11, 25, 16), ny(2026, 11, 27, 10)) == 2 * H


def test_arrival_outside_hours_starts_at_next_opening() -> None:
    assert next_open(US, ny(2026, 11, 21, 10)) == ny(2026, 11, 23, 9)  # Saturday → Monday
    assert next_open(US, ny(2026, 11, 23, 7, 30)) == ny(2026, 11, 23, 9)
    assert next_open(US, ny(2026, 11, 23, 17)) == ny(2026, 11, 24, 9)
    assert add_business_time(US, ny(2026, 11, 23, 20), 30 * timedelta(minutes=1)) == ny(
        2026, 11, 24, 9, 30
    )


def test_dst_change_keeps_local_hours() -> None:
    # Clocks fall back on Sunday 2026-11-01: Friday 16:00 EDT + 4h = Monday 12:00 EST,
    # which is 17:00 UTC (it would be 16:00 UTC had the offset not changed)
    due = add_business_time(US, ny(2026, 10, 30, 16), 4 * H)
    assert due == ny(2026, 11, 2, 12)
    assert due.astimezone(UTC).hour == 17
    # spring forward on 2026-03-08 likewise
    assert add_business_time(US, ny(2026, 3, 6, 16), 4 * H) == ny(2026, 3, 9, 12)


def test_berlin_calendar_follows_berlin_hours() -> None:
    # 16:00 Berlin Friday is 10:00 New York: the Berlin rep's clock has 1h left that day
    start = datetime(2026, 11, 20, 16, tzinfo=BERLIN)
    assert add_business_time(BERLIN_CAL, start, 4 * H) == datetime(2026, 11, 23, 12, tzinfo=BERLIN)


def test_closed_and_out_of_office_days() -> None:
    calendar = BusinessCalendar(
        timezone="America/New_York",
        closed=frozenset({date(2026, 12, 24)}),
        out_of_office=frozenset({date(2026, 12, 28)}),
    )
    assert calendar.closed_reason(date(2026, 12, 28)) == "out of office"
    # Wed 23rd 16:00 → 1h, 24th closed, 25th–27th Fri/weekend (no holidays here: Fri counts)
    assert add_business_time(calendar, ny(2026, 12, 23, 16), 4 * H) == ny(2026, 12, 25, 12)
    assert add_business_time(calendar, ny(2026, 12, 25, 16), 4 * H) == ny(2026, 12, 29, 12)


def test_durations() -> None:
    assert Duration.parse("2bd").business_length(US) == 16 * H
    assert Duration.parse("90m").after(US, ny(2026, 11, 23, 16)) == ny(2026, 11, 24, 9, 30)
    assert Duration.parse("14d").after(US, ny(2026, 11, 23, 16)) == ny(2026, 12, 7, 16)
    assert Duration.parse("14d").after(US, ny(2026, 11, 23, 16), 0.5) == ny(2026, 11, 30, 16)
    with pytest.raises(ValueError, match="not a duration"):
        Duration.parse("4 hours")


# -- properties ------------------------------------------------------------------------------
CALENDARS = st.sampled_from(
    [
        US,
        BERLIN_CAL,
        BusinessCalendar(timezone="Asia/Kolkata", opens=time(10), closes=time(18, 30)),
        BusinessCalendar(
            timezone="Australia/Sydney", workdays=frozenset({0, 1, 2, 3}), holidays="AU"
        ),
    ]
)
INSTANTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
AMOUNTS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=200))


@settings(max_examples=300, deadline=None)
@given(CALENDARS, INSTANTS, AMOUNTS)
def test_adding_then_measuring_round_trips(calendar, start, amount) -> None:  # type: ignore[no-untyped-def]
    end = add_business_time(calendar, start, amount)
    assert business_time_between(calendar, start, end) == amount


@settings(max_examples=300, deadline=None)
@given(CALENDARS, INSTANTS, AMOUNTS)
def test_results_land_in_working_time(calendar, start, amount) -> None:  # type: ignore[no-untyped-def]
    end = add_business_time(calendar, start, amount).astimezone(calendar.tz)
    assert calendar.is_business_day(end.date())
    assert calendar.opens <= end.time() <= calendar.closes
    assert end >= start


@settings(max_examples=200, deadline=None)
@given(CALENDARS, INSTANTS, AMOUNTS, AMOUNTS)
def test_monotonic(calendar, start, first, second) -> None:  # type: ignore[no-untyped-def]
    low, high = sorted((first, second))
    assert add_business_time(calendar, start, low) <= add_business_time(calendar, start, high)
    later = start + high
    assert business_time_between(calendar, start, later) <= high
    assert business_time_between(calendar, start, start + low) <= business_time_between(
        calendar, start, later
    )


@settings(max_examples=200, deadline=None)
@given(CALENDARS, INSTANTS)
def test_next_open_is_open_and_nothing_is_skipped(calendar, instant) -> None:  # type: ignore[no-untyped-def]
    opening = next_open(calendar, instant)
    assert is_open(calendar, opening)
    assert business_time_between(calendar, instant, opening) == timedelta(0)


WINDOWS = st.sampled_from(["30m", "4h", "24h", "2bd"])


@given(CALENDARS, INSTANTS, WINDOWS)
def test_latest_start_due_by_is_the_last_minute_whose_window_has_run(
    calendar, instant, text
) -> None:  # type: ignore[no-untyped-def]
    from bot.domain.business_time import Duration, latest_start_due_by

    window = Duration.parse(text)
    start = latest_start_due_by(calendar, window, instant)
    assert window.after(calendar, start) <= instant  # due by then
    assert window.after(calendar, start + timedelta(minutes=1)) > instant  # a minute later: not
