"""Who gets a lead that changes hands (pure): a smooth weighted round-robin over a team's pool,
skipping whoever cannot work the lead in time.

The rotation is nginx's smooth weighted round-robin: each available rep's turn grows by their
weight, the highest turn takes the lead and gives back the sum of the weights that took part.
The turns are stored, so the order stays fair across restarts; a rep who is skipped keeps
their turn (being away neither earns nor costs leads)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.business_time import Duration, is_open, next_open
from bot.domain.calendar import BusinessCalendar

OUT_OF_OFFICE = "out of office"
OFF_HOURS = "outside working hours"
AT_CAP = "at their daily cap"
OWNER = "holds the lead now"


@dataclass(frozen=True)
class Candidate:
    email: str
    weight: int = 1
    cap: int | None = None  # leads a day this rep may be given


def why_skipped(
    candidate: Candidate,
    calendar: BusinessCalendar,
    now: datetime,
    first_touch: Duration,
    given_today: int,
) -> str | None:
    """Why `candidate` cannot take a lead now (None: they can): out of office today, outside
    working hours for longer than the first-touch window, or at their daily cap."""
    if calendar.closed_reason(calendar.today(now)) == OUT_OF_OFFICE:
        return OUT_OF_OFFICE
    if candidate.cap is not None and given_today >= candidate.cap:
        return AT_CAP
    if not is_open(calendar, now):
        wait = next_open(calendar, now) - now
        if wait > _wall(first_touch, calendar):
            return OFF_HOURS
    return None


def _wall(window: Duration, calendar: BusinessCalendar) -> timedelta:
    """The first-touch window as wall time: what a lead can wait for its rep to start work."""
    if window.unit == "d":
        return timedelta(days=window.amount)
    return window.business_length(calendar)


def next_in_rotation(
    pool: Sequence[Candidate], turns: Mapping[str, int], skipped: Mapping[str, str]
) -> tuple[str | None, dict[str, int]]:
    """(the rep who takes the next lead, the turns after it); None when everyone is skipped
    (the turns unchanged). Ties go to the rep listed first."""
    ready = [each for each in pool if each.email not in skipped]
    after = dict(turns)
    if not ready:
        return None, after
    for each in ready:
        after[each.email] = after.get(each.email, 0) + each.weight
    chosen = max(ready, key=lambda each: after[each.email])  # max keeps the first of a tie
    after[chosen.email] -= sum(each.weight for each in ready)
    return chosen.email, after
