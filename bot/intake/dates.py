"""Dates as CRMs export them: ISO 8601, and numeric dates in the exporting user's locale.

`03/05/2023` is 3 May in an en_GB report and 5 March in an en_US one. slabot never guesses:
a file is read in the order its agreement names (`date_order`), or in the order its own values
prove (a first number above 12 can only be a day), or not at all.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

DateOrder = Literal["MDY", "DMY", "YMD"]

# 11/9/2026, 2:03 PM · 09/11/2026 14:03 · 09.11.2026 14:03:05 · 2026/11/09 · 9-11-2026
_NUMERIC = re.compile(
    r"^(\d{1,4})([./-])(\d{1,2})\2(\d{2,4})"
    r"(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp])?\.?[Mm]?\.?)?$"
)


class DateError(ValueError):
    """Why a text is not a date in the order given."""


def evidence(text: str) -> DateOrder | Literal["ambiguous"] | None:
    """What one value proves about its file's date order: MDY or DMY (a number above 12 can
    only be a day), "ambiguous" (both fit and give different dates), or None (it needs no
    order: ISO, year first, or the same date either way)."""
    match = _NUMERIC.match(text.strip())
    if match is None or len(match.group(1)) == 4:
        return None
    first, second = int(match.group(1)), int(match.group(3))
    if first > 12 >= second:
        return "DMY"
    if second > 12 >= first:
        return "MDY"
    return None if first == second or first > 12 else "ambiguous"


def parse_timestamp(text: str, tz: tzinfo, order: DateOrder | None = None) -> datetime:
    """A CRM date or date-time → UTC. Naive times are local to `tz`. Numeric dates need
    `order` unless the value proves it; raises DateError saying what is wrong."""
    return _parsed(text.strip(), tz, order)


def read_timestamp(raw: str, tz: tzinfo, order: DateOrder | None) -> datetime:
    """`parse_timestamp` of a stripped text, not remembered (for a reader that keeps its own)."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = _numeric(raw, order)
    if value.tzinfo is None:
        return (value - _utc_offset(tz, value)).replace(tzinfo=UTC)
    return value.astimezone(UTC)


_parsed = functools.lru_cache(maxsize=1 << 17)(read_timestamp)  # exports repeat timestamps


def _numeric(raw: str, order: DateOrder | None) -> datetime:
    match = _NUMERIC.match(raw)
    if match is None:
        raise DateError(f"{raw!r} is not a date/time (use ISO 8601, e.g. 2026-11-20T14:03)")
    a, _, b, c, hour, minute, second, meridiem = match.groups()
    if len(a) == 4:
        year, month, day = int(a), int(b), int(c)
    else:
        if order is None:
            proven = evidence(raw) or "MDY"  # None here: the same date either way
            if proven == "ambiguous":
                raise DateError(
                    f"{raw!r} could be {_spelt(a, b)} or {_spelt(b, a)}: the date order must be "
                    'set (date_order = "DMY" or "MDY")'
                )
            order = proven
        if order == "YMD":
            raise DateError(f"{raw!r} does not start with a 4-digit year (date_order is YMD)")
        month, day = (int(a), int(b)) if order == "MDY" else (int(b), int(a))
        year = int(c) + (2000 if len(c) == 2 else 0)
    hours = int(hour or 0)
    if meridiem:
        if not 1 <= hours <= 12:
            raise DateError(f"{raw!r}: {hours} is not an hour on a 12-hour clock")
        hours = hours % 12 + (12 if meridiem in "Pp" else 0)
    try:
        return datetime(year, month, day, hours, int(minute or 0), int(second or 0))
    except ValueError as error:
        raise DateError(f"{raw!r} is not a date in {order or 'YMD'} order ({error})") from None


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _spelt(day: str, month: str) -> str:
    return f"{int(day)} {_MONTHS[int(month) - 1]}" if 1 <= int(month) <= 12 else f"{day}/{month}"


_OFFSETS: dict[tuple[tzinfo, object, int, bool], timedelta] = {}


def _utc_offset(tz: tzinfo, local: datetime) -> timedelta:
    """The zone's UTC offset at a naive local time, memoised per half hour (offsets change on
    the hour or half hour), so a million timestamps cost a million dict look-ups."""
    key = (tz, local.date(), local.hour, local.minute >= 30)
    offset = _OFFSETS.get(key)
    if offset is None:
        if len(_OFFSETS) > 100_000:
            _OFFSETS.clear()
        offset = _OFFSETS[key] = local.replace(tzinfo=tz).utcoffset() or timedelta(0)
    return offset
