"""Pacing, as DESIGN.md defines it, against hand calculations; and its invariants for any
calendar, period and day (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from bot.domain import pacing
from bot.domain.agenda import QualitySignal, pick_agenda
from bot.domain.calendar import BusinessCalendar
from bot.domain.pacing import Pace, PaceStatus

# The example agreement's calendar: New York, Mon–Fri, US holidays, two closed days.
NY = BusinessCalendar(
    timezone="America/New_York",
    holidays="US",
    closed=frozenset({date(2026, 12, 24), date(2026, 12, 31)}),
)
TEN_PERCENT = Fraction(1, 10)


def test_november_2026_business_days_by_hand() -> None:
    # November 2026: 21 weekdays (2–6, 9–13, 16–20, 23–27, 30) less Veterans Day (Wed 11th)
    # and Thanksgiving (Thu 26th) = 19. Before Friday the 20th: 2–6 (5), 9, 10, 12, 13 (4),
    # 16–19 (4) = 13 completed; 6 remain (20, 23, 24, 25, 27, 30).
    where = pacing.position(NY, "month", date(2026, 11, 20))
    assert (where.start, where.end) == (date(2026, 11, 1), date(2026, 12, 1))
    assert (where.business_days, where.completed, where.remaining) == (19, 13, 6)
    assert where.label == "November 2026"


def test_friday_20_november_pace_by_hand() -> None:
    where = pacing.position(NY, "month", date(2026, 11, 20))
    mqls = Pace("MQLs", 2400, Fraction(3900), where, TEN_PERCENT)
    assert mqls.expected == Fraction(3900 * 13, 19)  # 2,668.42
    assert mqls.pace == Fraction(2400 * 19, 3900 * 13)  # 0.8994: just under 90 %
    assert mqls.status is PaceStatus.BEHIND
    assert mqls.projection == Fraction(2400 * 19, 13)  # 3,507.69
    assert mqls.needed_per_day == Fraction(1500, 6)  # 250 a day
    assert mqls.gap == Fraction(3900 * 13, 19) - 2400
    # two more MQLs and the same day is on track: 2,402 ÷ 2,668.42 = 0.9002
    assert Pace("MQLs", 2402, Fraction(3900), where, TEN_PERCENT).status is PaceStatus.ON_TRACK
    # 2,936 ÷ 2,668.42 = 1.1003: ahead
    assert Pace("MQLs", 2936, Fraction(3900), where, TEN_PERCENT).status is PaceStatus.AHEAD
    assert Pace("MQLs", 2935, Fraction(3900), where, TEN_PERCENT).status is PaceStatus.ON_TRACK


def test_source_split_targets() -> None:
    shares = {"website": 0.6, "outbound": 0.4}
    assert pacing.split_target(3900, shares, "website") == 2340
    assert pacing.split_target(3900, shares, "outbound") == 1560
    assert pacing.split_target(3900, shares, "events") is None


def test_first_business_day_expects_nothing_and_closes_the_last_period() -> None:
    # Sunday 1 November is not a business day; Monday the 2nd is the first one
    day = date(2026, 11, 2)
    where = pacing.position(NY, "month", day)
    assert where.completed == 0
    mqls = Pace("MQLs", 0, Fraction(3900), where, TEN_PERCENT)
    assert mqls.expected == 0 and mqls.pace is None and mqls.projection is None
    assert mqls.status is PaceStatus.NOT_STARTED
    assert mqls.needed_per_day == Fraction(3900, 19)
    assert pacing.is_first_business_day(NY, "month", day)
    assert not pacing.is_first_business_day(NY, "month", date(2026, 11, 1))
    assert not pacing.is_first_business_day(NY, "month", date(2026, 11, 3))
    # October 2026: 22 weekdays less Columbus Day (12th) = 21, all completed
    closed = pacing.closing_position(NY, "month", day)
    assert (closed.start, closed.label, closed.business_days, closed.completed) == (
        date(2026, 10, 1),
        "October 2026",
        21,
        21,
    )


def test_quarter_periods_by_hand() -> None:
    # Q4 2026: October 21 + November 19 + December 20 (23 weekdays less Christmas and the
    # two closed days, 24th and 31st) = 60. Before 20 November: 21 + 13 = 34.
    where = pacing.position(NY, "quarter", date(2026, 11, 20))
    assert (where.start, where.end, where.label) == (date(2026, 10, 1), date(2027, 1, 1), "Q4 2026")
    assert (where.business_days, where.completed) == (60, 34)
    sqls = Pace("SQLs", 3500, Fraction(11700), where, TEN_PERCENT)
    assert sqls.expected == 6630  # 11,700 × 34 ÷ 60
    assert sqls.needed_per_day == Fraction(11700 - 3500, 26)


def test_movement_starts_on_the_previous_business_day() -> None:
    assert pacing.previous_business_day(NY, date(2026, 11, 20)) == date(2026, 11, 19)
    assert pacing.previous_business_day(NY, date(2026, 11, 23)) == date(2026, 11, 20)  # Monday
    assert pacing.previous_business_day(NY, date(2026, 11, 27)) == date(
        2026, 11, 25
    )  # Thanksgiving
    assert pacing.previous_business_day(NY, date(2026, 11, 12)) == date(2026, 11, 10)  # Veterans


def test_next_stand_up_skips_weekends_and_holidays() -> None:
    assert pacing.next_business_day(NY, date(2026, 11, 20)) == date(2026, 11, 20)
    assert pacing.next_business_day(NY, date(2026, 11, 21)) == date(2026, 11, 23)
    assert pacing.next_business_day(NY, date(2026, 11, 26)) == date(2026, 11, 27)


def test_midnight_is_local_and_moves_with_daylight_saving() -> None:
    assert pacing.midnight(NY, date(2026, 10, 30)).utcoffset() == timedelta(hours=-4)
    assert pacing.midnight(NY, date(2026, 11, 20)).utcoffset() == timedelta(hours=-5)


def test_conversion_compared_with_the_assumption() -> None:
    assumed = Fraction(34, 100)
    assert pacing.compare_rate(Fraction(30, 100), assumed, TEN_PERCENT) is PaceStatus.BEHIND
    assert pacing.compare_rate(Fraction(31, 100), assumed, TEN_PERCENT) is PaceStatus.ON_TRACK
    assert pacing.compare_rate(None, assumed, TEN_PERCENT) is None


def test_agenda_names_the_gap_the_rep_and_the_quality_signal() -> None:
    where = pacing.position(NY, "month", date(2026, 11, 20))
    paces = [
        Pace("MQLs", 2500, Fraction(3900), where, TEN_PERCENT),  # 93.7 %: on track
        Pace("SQLs", 700, Fraction(1326), where, TEN_PERCENT),  # 77.2 %: behind
        Pace("outbound", 800, Fraction(1560), where, TEN_PERCENT),  # 75.0 %: furthest behind
    ]
    signal = QualitySignal("outbound", Fraction(22, 100), Fraction(30, 100), PaceStatus.BEHIND)
    agenda = pick_agenda(
        paces=paces,
        breaches=[("rita@example.com", 5), ("sam@example.com", 2)],
        quality=[signal],
        response_share=Fraction(9, 10),
        recycle_reason=("bad timing", 4),
    )
    assert [item.kind for item in agenda] == ["gap", "breaches", "quality"]
    assert agenda[0].subject == "outbound"
    assert agenda[0].figure == Fraction(1560 * 13, 19) - 800
    assert (agenda[1].subject, agenda[1].figure, agenda[1].compare) == ("rita@example.com", 5, 7)
    calm = pick_agenda(
        paces=paces[:1], breaches=[], quality=[], response_share=None, recycle_reason=None
    )
    assert [item.kind for item in calm] == ["on_pace", "no_breaches"]


def test_of_two_sources_both_at_nothing_the_agenda_names_the_bigger_gap() -> None:
    """Day one: website (60 % of 3,900) and outbound (40 %) both at 0: both are at 0 % of their
    pace, and the agenda names website, 60 % of the target behind, not the alphabet's first."""
    where = pacing.position(NY, "month", date(2026, 11, 20))
    paces = [
        Pace("outbound", 0, Fraction(1560), where, TEN_PERCENT),
        Pace("website", 0, Fraction(2340), where, TEN_PERCENT),
    ]
    [gap, _] = pick_agenda(
        paces=paces, breaches=[], quality=[], response_share=None, recycle_reason=None
    )
    assert (gap.kind, gap.subject) == ("gap", "website")
    assert gap.figure == Fraction(2340 * 13, 19)  # 13 of November's 19 business days gone


# -- properties ---------------------------------------------------------------------------------

calendars = st.builds(
    BusinessCalendar,
    timezone=st.sampled_from(["America/New_York", "Europe/Berlin", "Asia/Kolkata", "UTC"]),
    workdays=st.frozensets(st.integers(0, 6), min_size=1),
    holidays=st.sampled_from(["", "US", "DE", "GB"]),
)
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31))
periods = st.sampled_from(["month", "quarter"])


@given(calendars, periods, days)
def test_completed_and_remaining_days_add_up(calendar, period, day) -> None:  # type: ignore[no-untyped-def]
    where = pacing.position(calendar, period, day)
    assert where.start <= day < where.end
    assert 0 <= where.completed <= where.business_days
    assert where.completed + where.remaining == where.business_days
    # the next day has completed exactly one more business day if today is one
    later = day + timedelta(days=1)
    if later < where.end:
        step = pacing.position(calendar, period, later).completed - where.completed
        assert step == (1 if calendar.is_business_day(day) else 0)


@given(calendars, periods, days, st.integers(0, 20_000), st.integers(1, 20_000))
def test_pace_figures_agree_with_each_other(calendar, period, day, actual, target) -> None:  # type: ignore[no-untyped-def]
    where = pacing.position(calendar, period, day)
    pace = Pace("MQLs", actual, Fraction(target), where, TEN_PERCENT)
    if where.completed:
        assert pace.expected * where.business_days == target * where.completed
        assert pace.projection * where.completed == actual * where.business_days
        expected_status = (
            PaceStatus.AHEAD
            if pace.pace > Fraction(11, 10)
            else PaceStatus.BEHIND
            if pace.pace < Fraction(9, 10)
            else PaceStatus.ON_TRACK
        )
        assert pace.status is expected_status
    else:
        assert pace.status is PaceStatus.NOT_STARTED  # nothing expected before day one
    if where.remaining:
        # doing the needed amount every remaining day reaches the target, and not more
        assert actual + pace.needed_per_day * where.remaining == max(actual, target)


@given(calendars, periods, days)
def test_expected_never_falls_as_the_period_goes_on(calendar, period, day) -> None:  # type: ignore[no-untyped-def]
    where = pacing.position(calendar, period, day)
    later = pacing.position(
        calendar, period, min(day + timedelta(days=7), where.end - timedelta(days=1))
    )
    first = Pace("MQLs", 0, Fraction(1000), where, TEN_PERCENT).expected
    second = Pace("MQLs", 0, Fraction(1000), later, TEN_PERCENT).expected
    if first is not None and second is not None:
        assert first <= second <= 1000
