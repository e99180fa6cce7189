"""`/sla away 24 Dec – 2 Jan`: the days a rep is out of office, as people write them."""

from __future__ import annotations

import re
from datetime import date, timedelta

MONTHS = {name: n for n, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
)}  # fmt: skip
_DAY_MONTH = re.compile(r"^(\d{1,2})\s*([a-z]{3})[a-z]*\.?$")
_MONTH_DAY = re.compile(r"^([a-z]{3})[a-z]*\.?\s*(\d{1,2})$")
_SEPARATOR = re.compile(r"\s*(?:–|—|\.\.)\s*|\s+(?:-|to|until)\s+")  # "-" alone is ISO's
MAX_DAYS = 366


class AwayError(ValueError):
    """The text is no day or range of days (from today on, at most a year)."""


def away_days(text: str, today: date) -> list[date]:
    """Every day from the first to the last given, both included. A day without a year is its
    next occurrence from `today` on; an end before its start is in the following year."""
    parts = [part for part in _SEPARATOR.split(text.strip().lower(), maxsplit=1) if part]
    if not 1 <= len(parts) <= 2:
        raise AwayError(text)
    start = _day(parts[0], today)
    end = _day(parts[-1], start)
    if end < start:
        raise AwayError(text)
    if (end - start).days >= MAX_DAYS or end < today:
        raise AwayError(text)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _day(text: str, not_before: date) -> date:
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    found = _DAY_MONTH.match(text) or _MONTH_DAY.match(text)
    if not found:
        raise AwayError(text)
    first, second = found.groups()
    day, month = (first, second) if first.isdigit() else (second, first)
    if month not in MONTHS:
        raise AwayError(text)
    for year in (not_before.year, not_before.year + 1):
        try:
            candidate = date(year, MONTHS[month], int(day))
        except ValueError:
            raise AwayError(text) from None
        if candidate >= not_before:
            return candidate
    raise AwayError(text)
