"""SLA rules as clocks: hand-computed instants for the example agreement's sales terms."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.agreement import SalesTerms
from bot.domain.calendar import BusinessCalendar
from bot.domain.sla_rules import LeadFacts, Level, Status, cadence_rules, describe, evaluate

NY = ZoneInfo("America/New_York")
US = BusinessCalendar(timezone="America/New_York", holidays="US")
TERMS = SalesTerms()  # 4h, 2bd, 3 in 14d / 5 in 28d / 8 in 49d, warn 75 %, 4h, 1bd


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def clocks(facts: LeadFacts) -> dict:
    return {clock.rule: clock for clock in evaluate(facts, TERMS, US)}


def test_first_touch_timeline() -> None:
    clock = clocks(LeadFacts(assigned_at=ny(2026, 11, 20, 16)))["first_touch"]
    assert clock.warn_at == ny(2026, 11, 23, 11)  # 3h of 4h: 1h Friday + 2h Monday
    assert clock.due_at == ny(2026, 11, 23, 12)
    assert clock.manager_at == ny(2026, 11, 23, 16)  # 4 business hours after the breach
    assert clock.channel_at == ny(2026, 11, 24, 12)  # one business day (8h) after
    assert clock.level(ny(2026, 11, 23, 10, 59)) == Level.OK
    assert clock.level(ny(2026, 11, 23, 11, 59)) == Level.DUE_SOON
    assert clock.level(ny(2026, 11, 23, 12, 1)) == Level.BREACHED
    assert clock.level(ny(2026, 11, 24, 12)) == Level.CHANNEL
    assert clock.next_change(int(Level.DUE_SOON)) == clock.due_at
    assert clock.next_change(int(Level.CHANNEL)) is None


def test_the_channel_never_hears_before_the_manager() -> None:
    terms = SalesTerms(escalate_manager_after="1bd", escalate_channel_after="2h")
    [clock] = [
        each
        for each in evaluate(LeadFacts(assigned_at=ny(2026, 11, 20, 16)), terms, US)
        if each.rule == "first_touch"
    ]
    assert clock.manager_at == ny(2026, 11, 24, 12)  # due Monday noon + 8 business hours
    assert clock.channel_at == clock.manager_at  # 2h after the breach would be before it
    assert clock.level(ny(2026, 11, 23, 15)) == Level.BREACHED  # past the 2h, not escalated
    assert clock.level(ny(2026, 11, 24, 12)) == Level.CHANNEL


def test_met_rules_record_business_time_taken() -> None:
    facts = LeadFacts(
        assigned_at=ny(2026, 11, 20, 16),
        first_touch_at=ny(2026, 11, 23, 10),
        accepted_at=ny(2026, 11, 24, 15),
        touches=(ny(2026, 11, 23, 10), ny(2026, 11, 24, 10), ny(2026, 11, 30, 10)),
    )
    found = clocks(facts)
    assert found["first_touch"].status == Status.MET
    assert found["first_touch"].took == timedelta(hours=2)
    assert found["accept"].due_at == ny(2026, 11, 24, 16)  # 16h: 1h Fri, 8h Mon, 7h Tue
    assert found["accept"].status == Status.MET
    assert found["accept"].took == timedelta(hours=15)
    assert found["follow_up:3in14d"].status == Status.MET
    assert found["follow_up:3in14d"].met_at == ny(2026, 11, 30, 10)
    assert found["first_touch"].level(ny(2026, 12, 1)) == Level.OK


def test_late_touch_and_recycled_lead() -> None:
    late = clocks(LeadFacts(assigned_at=ny(2026, 11, 20, 16), first_touch_at=ny(2026, 11, 23, 13)))
    assert late["first_touch"].status == Status.LATE
    assert late["first_touch"].took == timedelta(hours=5)
    recycled = clocks(LeadFacts(assigned_at=ny(2026, 11, 20, 16), ended_at=ny(2026, 11, 23, 10)))
    assert recycled["first_touch"].status == Status.VOID  # recycled before the deadline
    assert recycled["accept"].status == Status.MET  # recycling is the decision
    assert recycled["follow_up:3in14d"].status == Status.VOID


def test_cadence_windows_are_calendar_days() -> None:
    assert [rule for rule, _, _ in cadence_rules(TERMS)] == [
        "follow_up:3in14d",
        "follow_up:5in28d",
        "follow_up:8in49d",
    ]
    clock = clocks(LeadFacts(assigned_at=ny(2026, 11, 2, 10), first_touch_at=ny(2026, 11, 2, 11)))[
        "follow_up:3in14d"
    ]
    assert clock.due_at == ny(2026, 11, 16, 10)
    assert clock.warn_at == ny(2026, 11, 12, 22)  # 10.5 days in
    assert describe(clock) == "3 touches in 14d"
