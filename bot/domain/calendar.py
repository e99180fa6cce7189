"""Business calendars: timezone, workdays, working hours, public holidays and closed dates.

Pure: no I/O beyond the `holidays` package's built-in tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib
from holidays.registry import EntityLoader

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def parse_hours(text: str) -> tuple[time, time]:
    """`"09:00-17:00"` → (09:00, 17:00). Raises ValueError with the reason."""
    try:
        start_text, end_text = (part.strip() for part in text.split("-"))
        start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    except ValueError as exc:
        raise ValueError(f"hours must look like 09:00-17:00 (got {text!r})") from exc
    if start >= end:
        raise ValueError(f"hours must start before they end (got {text!r})")
    return start, end


@dataclass(frozen=True)
class BusinessCalendar:
    """Which days and hours count as business time, in one IANA timezone."""

    timezone: str = "UTC"
    workdays: frozenset[int] = frozenset(range(5))
    opens: time = time(9)
    closes: time = time(17)
    holidays: str = ""  # a country ("DE"), a subdivision ("DE-SN") or a market ("NYSE")
    closed: frozenset[date] = field(default_factory=frozenset)  # closed besides the holidays
    opened: frozenset[date] = field(default_factory=frozenset)  # holidays worked after all
    out_of_office: frozenset[date] = field(default_factory=frozenset)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def windows(self) -> dict[date, tuple[datetime, datetime] | None]:
        """Working-hour windows already placed in UTC (filled by `business_time.window`)."""
        return {}

    def holiday_name(self, day: date) -> str | None:
        if not self.holidays or day in self.opened:
            return None
        return holiday_table(self.holidays).get(day)

    def closed_reason(self, day: date) -> str | None:
        """Why `day` is not a business day ("weekend", the holiday's name, "closed"), or None."""
        if day.weekday() not in self.workdays:
            return "weekend"
        name = self.holiday_name(day)
        if name:
            return name
        if day in self.closed:
            return "closed"
        if day in self.out_of_office:
            return "out of office"
        return None

    def is_business_day(self, day: date) -> bool:
        return self.closed_reason(day) is None

    def business_days(self, start: date, end: date) -> int:
        """Business days in [start, end) (memoised: periods are asked for again and again)."""
        return _count_business_days(self, start, end)

    def today(self, now: datetime) -> date:
        return now.astimezone(self.tz).date()


def check_holidays(spec: str) -> str:
    """Normalise a holiday calendar: a country ("US"), a country's subdivision ("DE-SN",
    "GB-SCT") or a financial market ("NYSE"), as the `holidays` package knows them. Raises
    ValueError naming what it does know."""
    code = spec.strip().upper()
    if not code:
        return ""
    # the package's registry of codes: listing them loads no country (listing every
    # country's subdivisions loads all of them, most of a short command's start-up)
    countries = set(EntityLoader.get_country_codes())
    if code in countries or code in EntityLoader.get_financial_codes():
        return code
    country, _, subdivision = code.partition("-")
    if country in countries and subdivision:
        subdivisions = list(getattr(holidays_lib, country).subdivisions)  # that country only
        known = {each.upper(): each for each in subdivisions}
        if subdivision in known:
            return f"{country}-{known[subdivision]}"
        raise ValueError(
            f"{spec!r}: {country} has no subdivision {subdivision!r}; it has "
            + ", ".join(f"{country}-{each}" for each in subdivisions if each.isupper())
        )
    raise ValueError(
        f"{spec!r} is not a country (US, DE), a subdivision (DE-SN, GB-SCT) or a market (NYSE)"
        " that the holidays package knows"
    )


@lru_cache(maxsize=64)
def holiday_table(spec: str) -> holidays_lib.HolidayBase:
    """One holiday table per calendar per process; it fills in years as they are asked for."""
    if spec in EntityLoader.get_financial_codes():  # (listing the markets loads them all)
        return holidays_lib.financial_holidays(spec)
    country, _, subdivision = spec.partition("-")
    return holidays_lib.country_holidays(country, subdiv=subdivision or None)


@lru_cache(maxsize=4096)
def _count_business_days(calendar: BusinessCalendar, start: date, end: date) -> int:
    return sum(
        1
        for offset in range((end - start).days)
        if calendar.is_business_day(start + timedelta(days=offset))
    )


def period_bounds(day: date, period: str) -> tuple[date, date]:
    """The [start, end) dates of the month, quarter or year that contains `day`."""
    months = PERIOD_MONTHS[period]
    first_month = (day.month - 1) // months * months + 1
    start = date(day.year, first_month, 1)
    end_month = first_month + months
    end = date(day.year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return start, end


def period_label(start: date, period: str) -> str:
    if period == "month":
        return start.strftime("%B %Y")
    if period == "quarter":
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    return str(start.year)
