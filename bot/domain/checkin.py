"""The check-in before the stand-up (pure): when a rep's DM goes out, and the reasons a rep
can give for a breached lead."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.business_time import Duration, window
from bot.domain.calendar import BusinessCalendar

# what a rep can say about a breached lead (value → what it says)
REASONS = {
    "no_answer": "called, no answer",
    "wrong_owner": "wrong owner",
    "waiting_marketing": "waiting on marketing",
    "not_a_fit": "not a fit",
    "other": "other",
}


def lead_time(checkin: str) -> timedelta:
    """`checkin = "30m"` as the time before the stand-up (plain, not business, time)."""
    duration = Duration.parse(checkin)
    return timedelta(minutes=duration.amount) * (60 if duration.unit == "h" else 1)


def checkin_at(standup: datetime, before: timedelta, rep: BusinessCalendar) -> datetime | None:
    """When the rep's check-in goes out: `before` the stand-up, or when their working day
    opens if that is later; None on a day they are off (a holiday, out of office) or when
    their day opens only after the stand-up (they could not answer in time)."""
    hours = window(rep, rep.today(standup))
    if hours is None:
        return None
    at = max(standup - before, hours[0])
    return at if at < standup and at < hours[1] else None
