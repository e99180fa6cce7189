"""The sales side of the SLA as clocks: first touch, accept-or-recycle and follow-up cadence.

Pure. For one lead, :func:`evaluate` returns a :class:`Clock` per rule with every instant at
which the rule's alert level changes (due soon, breached, escalated to the manager, escalated
to the channel). The instants depend only on the assignment, the touches, the decision and the
agreement, so they are computed when one of those changes and stored; a scan only compares
them with the time.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import IntEnum
from functools import lru_cache

from bot.domain.agreement import SalesTerms
from bot.domain.business_time import Cadence, Duration, business_time_between
from bot.domain.calendar import BusinessCalendar


class Level(IntEnum):
    """How far an open rule has gone. Each level is told once, to a widening audience."""

    OK = 0
    DUE_SOON = 1  # the rep
    BREACHED = 2  # the rep
    MANAGER = 3  # the rep's manager
    CHANNEL = 4  # the team's channel


_LEVELS = tuple(Level)


class Status:
    OPEN = "open"  # still running
    MET = "met"  # met within the window
    LATE = "late"  # met, after the deadline
    MISSED = "missed"  # the window ended unmet (cadence) or the lead was closed after a breach
    VOID = "void"  # the lead was closed or recycled before the deadline: nothing to judge


@dataclass(frozen=True)
class Clock:
    rule: str  # first_touch | accept | follow_up:3in14d
    starts_at: datetime
    warn_at: datetime
    due_at: datetime
    manager_at: datetime
    channel_at: datetime
    status: str = Status.OPEN
    met_at: datetime | None = None
    took: timedelta | None = None  # business time from the start to meeting the rule

    @property
    def instants(self) -> tuple[datetime, datetime, datetime, datetime]:
        return self.warn_at, self.due_at, self.manager_at, self.channel_at

    def level(self, now: datetime) -> Level:
        return level_at(self.instants, now) if self.status == Status.OPEN else Level.OK

    def next_change(self, alerted: int) -> datetime | None:
        return next_instant(self.instants, alerted) if self.status == Status.OPEN else None


def level_at(instants: tuple[datetime, ...], now: datetime) -> Level:
    """The level an open clock with these (warn, due, manager, channel) instants has reached
    (the instants are in order: a scan asks this a hundred thousand times)."""
    return _LEVELS[bisect_right(instants, now)]


def next_instant(instants: tuple[datetime, ...], alerted: int) -> datetime | None:
    """When the first level above `alerted` is reached (None: nothing left to tell)."""
    return instants[alerted] if alerted < Level.CHANNEL else None


@dataclass(frozen=True)
class LeadFacts:
    """What the rules read from a lead (UTC instants)."""

    assigned_at: datetime
    first_touch_at: datetime | None = None
    accepted_at: datetime | None = None  # SAL, SQL or opportunity: the rep took it
    qualified_at: datetime | None = None  # SQL or opportunity: the cadence has done its job
    ended_at: datetime | None = None  # recycled or closed: nothing more to do
    touches: tuple[datetime, ...] = ()

    @property
    def decided_at(self) -> datetime | None:
        return _earliest(self.accepted_at, self.ended_at)

    @property
    def cadence_ends_at(self) -> datetime | None:
        return _earliest(self.qualified_at, self.ended_at)


def _earliest(*instants: datetime | None) -> datetime | None:
    found = [at for at in instants if at is not None]
    return min(found) if found else None


def cadence_rules(terms: SalesTerms) -> list[tuple[str, int, Duration]]:
    """("follow_up:3in14d", 3, 14d) for each cadence rule of the agreement."""
    return _cadence(tuple(terms.follow_up))


@lru_cache(maxsize=64)
def _cadence(follow_up: tuple[str, ...]) -> list[tuple[str, int, Duration]]:
    cadences = [Cadence.parse(text) for text in follow_up]  # the agreement validated them
    return [(cadence.rule, cadence.count, cadence.window) for cadence in cadences]


def evaluate(facts: LeadFacts, terms: SalesTerms, calendar: BusinessCalendar) -> list[Clock]:
    """Every rule's clock for one assigned lead, in the owner's calendar."""
    start = facts.assigned_at
    clocks = [
        _clock(
            "first_touch",
            Duration.parse(terms.first_touch),
            start,
            facts.first_touch_at,
            facts.decided_at,
            terms,
            calendar,
        ),
        _clock(
            "accept",
            Duration.parse(terms.accept_within),
            start,
            facts.decided_at,
            facts.ended_at,
            terms,
            calendar,
        ),
    ]
    touches = sorted(facts.touches)
    for rule, count, window in cadence_rules(terms):
        met_at = touches[count - 1] if len(touches) >= count else None
        clocks.append(_clock(rule, window, start, met_at, facts.cadence_ends_at, terms, calendar))
    return clocks


def _clock(
    rule: str,
    window: Duration,
    start: datetime,
    met_at: datetime | None,
    stopped_at: datetime | None,
    terms: SalesTerms,
    calendar: BusinessCalendar,
) -> Clock:
    """One rule: met by `met_at`; `stopped_at` (closed, recycled…) ends it unmet."""
    due = window.after(calendar, start)
    warn = window.after(calendar, start, terms.warn_at)
    manager = Duration.parse(terms.escalate_manager_after).after(calendar, due)
    # the channel hears after the manager, even if its window is set shorter
    channel = max(manager, Duration.parse(terms.escalate_channel_after).after(calendar, due))
    clock = Clock(rule, start, warn, due, manager, channel)
    if met_at is not None:
        took = business_time_between(calendar, start, met_at)
        status = Status.MET if met_at <= due else Status.LATE
        return replace(clock, status=status, met_at=met_at, took=took)
    if stopped_at is not None:
        return replace(clock, status=Status.MISSED if stopped_at > due else Status.VOID)
    return clock


def describe(clock: Clock) -> str:
    """A rule as a rep reads it: "first touch", "accept or recycle", "3 touches in 14d"."""
    if clock.rule == "first_touch":
        return "first touch"
    if clock.rule == "accept":
        return "accept or recycle"
    count, window = clock.rule.removeprefix("follow_up:").split("in", 1)
    return f"{count} touches in {window}"
