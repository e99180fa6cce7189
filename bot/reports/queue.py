"""A queue's lines: one per lead with its due rules, most urgent first, and what a message
shows of it (business time since assignment, deadlines in the reader's timezone)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from functools import cached_property

from bot.domain.agreement import Agreement
from bot.domain.business_time import Duration, business_time_between
from bot.domain.calendar import BusinessCalendar
from bot.domain.sla_rules import describe
from storage import alerts as store


@dataclass(frozen=True)
class State:
    rule: str  # "first touch", "accept or recycle", "3 touches in 14d"
    level: int
    due: str  # the deadline in the reader's timezone, "Mon 23 Nov 12:00"


class Line:
    """One lead in a queue: its due rules, most urgent first. What only a shown line needs
    (business time since assignment, local deadlines) is worked out when a template asks."""

    def __init__(
        self,
        clocks: list[store.ClockRow],
        *,
        agreement: Agreement,
        reader_calendar: BusinessCalendar,
        now: datetime,
        new: bool,
    ) -> None:
        if len(clocks) > 1:
            clocks.sort(key=lambda clock: (-clock.level, clock.due_at))
        self.clocks, self.lead, self.new = clocks, clocks[0].lead, new
        self.level = clocks[0].level  # of the most urgent rule
        self.due_at = clocks[0].due_at
        self._agreement, self._calendar, self._now = agreement, reader_calendar, now

    @cached_property
    def states(self) -> list[State]:
        return [
            State(describe(clock), clock.level, _local(clock.due_at, self._calendar))  # type: ignore[arg-type]
            for clock in self.clocks
        ]

    @cached_property
    def value(self) -> Fraction | None:
        """The expected pipeline in the lead: what an MQL of its source and segment is worth
        (None when the funnel says what none is worth)."""
        segment = (self.lead.segment or "").lower() or None
        return self._agreement.mql_value(self.lead.source, segment)

    @property
    def due(self) -> str:
        return self.states[0].due

    @cached_property
    def since(self) -> str:
        """Business time since assignment, in the owner's calendar: "3h 10m"."""
        owner_calendar = self._agreement.rep_calendar(self.lead.owner_email)
        assigned = self.lead.assigned_at or self._now  # clocks only run once assigned
        return _duration(business_time_between(owner_calendar, assigned, self._now), owner_calendar)


def _local(instant: datetime, calendar: BusinessCalendar) -> str:
    return instant.astimezone(calendar.tz).strftime("%a %d %b %H:%M")


def _duration(amount: timedelta, calendar: BusinessCalendar) -> str:
    """Business time as a rep counts it: "3h 10m" within a working day, else business days."""
    day = Duration.parse("1bd").business_length(calendar)
    if amount >= day:
        return f"{amount / day:.1f} business days"
    hours, minutes = divmod(int(amount.total_seconds() // 60), 60)
    return " ".join(part for part in (f"{hours}h" if hours else "", f"{minutes}m") if part)


def lines_for(
    agreement: Agreement,
    clocks: Iterable[store.ClockRow],
    *,
    reader_calendar: BusinessCalendar,
    now: datetime,
    new: set[int],
    by_value: bool = False,
) -> list[Line]:
    """A line per lead: its most urgent clock first, the lead's other due rules after it;
    news first, then the highest score, then the oldest deadline (`by_value`: the most
    expected pipeline first, then the most urgent)."""
    by_lead: dict[int, list[store.ClockRow]] = defaultdict(list)
    for clock in clocks:
        by_lead[clock.lead.id].append(clock)
    lines = [
        Line(
            found, agreement=agreement, reader_calendar=reader_calendar, now=now, new=lead_id in new
        )
        for lead_id, found in by_lead.items()
    ]
    if by_value:
        lines.sort(key=lambda line: (-(line.value or 0), -line.level, line.due_at, line.lead.id))
    else:
        lines.sort(
            key=lambda line: (not line.new, -(line.lead.score or 0), line.due_at, line.lead.id)
        )
    return lines
