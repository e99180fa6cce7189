"""The values a lead's fields are read from, checked one at a time (pure: no I/O): every mapper
(slabot's native rows, each CRM's export rows, events and API records) reads its cells with
these, and raises `RowError` naming the column and the reason; nothing else escapes
for bad input."""

from __future__ import annotations

import functools
import re
from datetime import datetime, tzinfo

from bot.domain.leads import STAGES, RowError, stage_of
from bot.intake import dates
from bot.intake.dates import DateOrder

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
MAX_TEXT = 500  # every text a CRM gives is stored within this
MAX_URL = 1000  # a record link: Slack's button URLs take 3,000


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL, and a surrogate with no pair


def clean(value: object) -> object:
    """A payload as it may be stored: in every string, NUL dropped and a lone surrogate (JSON
    may escape one, `"\\ud800"`) made U+FFFD. No database stores either."""
    if isinstance(value, str):
        if _UNSTORABLE.search(value) is None:
            return value
        return _UNSTORABLE.sub(lambda found: "" if found.group() == "\x00" else "\ufffd", value)
    if isinstance(value, list):
        return [clean(item) for item in value]
    if isinstance(value, dict):
        return {clean(key): clean(item) for key, item in value.items()}
    return value


def parse_timestamp(
    text: str, tz: tzinfo, *, column: str, order: DateOrder | None = None
) -> datetime:
    """ISO 8601 or a CRM's numeric date (`11/20/2026, 2:03 PM`, `20.11.2026 14:03`) in the
    file's date order; naive times are in `tz`. → UTC."""
    try:
        return dates.parse_timestamp(text, tz, order)
    except dates.DateError as error:
        raise RowError(column, str(error)) from None


def read_email(text: str, column: str) -> str:
    """An email address, lower-cased."""
    value = text.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise RowError(column, f"{text.strip()[:60]!r} is not an email address")
    return value


def read_number(text: str, column: str) -> float:
    """A number as CRMs export one (`1,200`, `$5000`)."""
    raw = text.strip().replace(",", "").removeprefix("$")
    try:
        return float(raw)
    except ValueError:
        raise RowError(column, f"{text.strip()!r} is not a number") from None


def read_text(raw: str, column: str) -> str:
    """A text field, trimmed, within what slabot stores."""
    value = raw.strip()
    if len(value) > MAX_TEXT:
        raise RowError(column, f"longer than {MAX_TEXT} characters")
    return value


@functools.lru_cache(maxsize=1024)  # a file has few distinct sources
def slug(text: str) -> str:
    """`Paid Search` → `paid_search`: how source names compare."""
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def canonical_stage(text: str, column: str = "stage") -> str:
    """The slabot stage a stage's name means; RowError if it means none."""
    stage = stage_of(text)
    if stage is None:
        raise RowError(column, f"{text.strip()!r} is not a stage (one of {', '.join(STAGES)})")
    return stage


def read_outcome(text: str, column: str) -> str:
    """won or lost."""
    outcome = text.strip().lower()
    if outcome not in ("won", "lost"):
        raise RowError(column, f"{text.strip()!r} is not won or lost")
    return outcome
