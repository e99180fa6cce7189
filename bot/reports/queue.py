"""A queue's lines: one per lead with its due rules, most urgent first, and what a message
shows of it (business time since assignment, deadlines in the reader's timezone)."""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from functools import cached_property
from operator import attrgetter
from typing import Any

from bot.domain.agreement import Agreement
from bot.domain.business_time import Duration, business_time_between
from bot.domain.calendar import BusinessCalendar
from bot.domain.sla_rules import Level, describe
from storage import alerts as store


@dataclass(frozen=True)
class State:
    rule: str  # "first touch", "accept or recycle", "3 touches in 14d"
    level: int
    due: str  # the deadline in the reader's timezone, "Mon 23 Nov 12:00"


@dataclass(frozen=True)
class Reading:
    """What every line of one queue shares: the terms, the reader's calendar and the moment
    (and each owner's calendar and each kind of lead's worth, looked up once: a DM shows
    twenty-two lines of one owner)."""

    agreement: Agreement
    calendar: BusinessCalendar
    now: datetime
    _owners: dict[str | None, BusinessCalendar] = field(default_factory=dict)
    _worths: dict[tuple[str | None, str | None], Fraction | None] = field(default_factory=dict)

    def worth(self, lead: store.LeadRow) -> Fraction | None:
        """What an MQL of the lead's source and segment is worth (worked out once for each)."""
        key = (lead.source, (lead.segment or "").lower() or None)
        if key not in self._worths:
            self._worths[key] = self.agreement.mql_value(*key)
        return self._worths[key]

    def owner_calendar(self, email: str | None) -> BusinessCalendar:
        found = self._owners.get(email)
        if found is None:
            found = self._owners[email] = self.agreement.rep_calendar(email)
        return found


class Line:
    """One lead in a queue: its due rules, most urgent first. What only a shown line needs
    (business time since assignment, local deadlines, its value) is worked out when a template
    asks: a busy queue holds twenty thousand lines and shows twenty-two."""

    def __init__(self, clocks: list[store.ClockRow], reading: Reading, new: bool) -> None:
        if len(clocks) > 1:
            clocks.sort(key=lambda clock: (-clock.level, clock.due_at))
        most_urgent = clocks[0]
        self.clocks, self.lead, self.new, self._reading = clocks, most_urgent.lead, new, reading
        self.level, self.due_at = most_urgent.level, most_urgent.due_at

    @cached_property
    def states(self) -> list[State]:
        calendar = self._reading.calendar
        return [
            State(describe(clock), clock.level, _local(clock.due_at, calendar))  # type: ignore[arg-type]
            for clock in self.clocks
        ]

    @cached_property
    def value(self) -> Fraction | None:
        """The expected pipeline in the lead: what an MQL of its source and segment is worth
        (None when the funnel says what none is worth)."""
        return self._reading.worth(self.lead)

    @property
    def due(self) -> str:
        return self.states[0].due

    @cached_property
    def since(self) -> str:
        """Business time since assignment, in the owner's calendar: "3h 10m"."""
        now = self._reading.now
        owner_calendar = self._reading.owner_calendar(self.lead.owner_email)
        assigned = self.lead.assigned_at or now  # clocks only run once assigned
        return _duration(business_time_between(owner_calendar, assigned, now), owner_calendar)


_BUSINESS_DAY = Duration.parse("1bd")


def _local(instant: datetime, calendar: BusinessCalendar) -> str:
    return instant.astimezone(calendar.tz).strftime("%a %d %b %H:%M")


def _duration(amount: timedelta, calendar: BusinessCalendar) -> str:
    """Business time as a rep counts it: "3h 10m" within a working day, else business days."""
    day = _BUSINESS_DAY.business_length(calendar)
    if amount >= day:
        return f"{amount / day:.1f} business days"
    hours, minutes = divmod(int(amount.total_seconds() // 60), 60)
    return " ".join(part for part in (f"{hours}h" if hours else "", f"{minutes}m") if part)


class Queue:
    """An audience's queue: a line per lead (its due rules, most urgent first), counted
    whole but made into `Line`s only for the positions asked for — a busy queue holds twenty
    thousand leads and a DM shows twenty-two. News first, then the highest score, then the
    oldest deadline (`by_value`: the most expected pipeline first, then the most urgent);
    `only_new`: the news alone, the other leads counted in `left_out`."""

    def __init__(
        self,
        agreement: Agreement,
        clocks: list[store.ClockRow],
        *,
        reader_calendar: BusinessCalendar,
        now: datetime,
        new: Set[int] = frozenset(),
        by_value: bool = False,
        only_new: bool = False,
    ) -> None:
        if only_new:
            kept = [clock for clock in clocks if clock.lead.id in new]
            self.left_out = len({c.lead.id for c in clocks}) - len({c.lead.id for c in kept})
            clocks = kept
        else:
            self.left_out = 0
        self._clocks, self._new = clocks, new
        self.calendar, self.by_value = reader_calendar, by_value  # as its reader sees it
        self._reading = Reading(agreement, reader_calendar, now)
        lead_ids = [clock.lead.id for clock in clocks]
        leads = set(lead_ids)
        # a clock a lead, as most often: nothing to choose between
        urgent = clocks if len(leads) == len(lead_ids) else _most_urgent(clocks)
        self.total = len(urgent)
        self.levels = Counter(map(attrgetter("level"), urgent))  # leads by their level
        self.new = len(leads.intersection(new))
        self._keys: list[tuple[Any, ...]]  # ending with the lead's id: no two are equal
        if by_value:
            worth = self._reading.worth
            self._keys = [
                (-(worth(clock.lead) or 0), -clock.level, clock.due_at, clock.lead.id)
                for clock in urgent
            ]
        else:
            self._keys = [
                (clock.lead.id not in new, -(clock.lead.score or 0), clock.due_at, clock.lead.id)
                for clock in urgent
            ]

    @property
    def breached(self) -> int:
        return sum(count for level, count in self.levels.items() if level >= Level.BREACHED)

    def lines(self, start: int, stop: int) -> list[Line]:
        """The lines at positions start … stop - 1, in the queue's order."""
        ranked = heapq.nsmallest(stop, self._keys) if stop < self.total else sorted(self._keys)
        shown = [key[-1] for key in ranked[start:stop]]
        wanted = set(shown)
        by_lead: dict[int, list[store.ClockRow]] = defaultdict(list)
        for clock in self._clocks:
            if clock.lead.id in wanted:
                by_lead[clock.lead.id].append(clock)
        return [Line(by_lead[lead_id], self._reading, lead_id in self._new) for lead_id in shown]


def _most_urgent(clocks: list[store.ClockRow]) -> list[store.ClockRow]:
    """Each lead's most urgent clock: the highest level, then the oldest deadline."""
    best: dict[int, store.ClockRow] = {}
    for clock in clocks:
        found = best.get(clock.lead.id)
        if found is None or _urgency(clock) < _urgency(found):
            best[clock.lead.id] = clock
    return list(best.values())


def _urgency(clock: store.ClockRow) -> tuple[int, datetime]:
    return -clock.level, clock.due_at
