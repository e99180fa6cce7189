"""A CSV file's date order, proven from its own values or refused with the setting that
fixes it. slabot never guesses: `03/05/2023` is 3 May in an en_GB report and 5 March in an
en_US one; a first number above 12 can only be a day."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC

from bot.domain.leads import TIME_FIELDS
from bot.intake import dates

NATIVE = ("native", "touches")  # slabot's own formats: every other is a CRM's


class DateOrderUnproven(ValueError):
    """The file's dates disagree, or nothing in the file says which reading is meant."""


def date_columns(fmt: str, header: list[str], columns: dict[str, int]) -> list[int]:
    if fmt in NATIVE:
        names = (*TIME_FIELDS, "touched_at")
        return [index for index, name in enumerate(header) if name in names]
    return sorted(
        {
            columns[name]
            for name in columns
            if "Date" in name or name in ("Last Contacted", "Last Activity")
        }
    )


def prove(
    lines: Iterator[tuple[int, list[str]]], positions: list[int], where: str, setting: str
) -> dates.DateOrder | None:
    """The order the file's own numeric dates prove (a first number above 12 is a day), None
    when it has no ambiguous date; refuses when nothing proves it or values disagree."""
    ambiguous: tuple[int, str] | None = None
    proof: dict[dates.DateOrder, tuple[int, str]] = {}
    for line, cells in lines:
        for position in positions:
            if position >= len(cells) or not cells[position]:
                continue
            found = dates.evidence(cells[position])
            if found == "ambiguous":
                ambiguous = ambiguous or (line, cells[position].strip())
            elif found is not None:
                proof.setdefault(found, (line, cells[position].strip()))
        if len(proof) == 2:
            (a, (line_a, value_a)), (b, (line_b, value_b)) = sorted(proof.items())
            raise DateOrderUnproven(
                f"the dates in {where} disagree: line {line_a} has {value_a!r} ({a}), line "
                f"{line_b} has {value_b!r} ({b}); export the file again in one locale"
            )
        if proof and ambiguous:
            break
    if proof:
        return next(iter(proof))
    if ambiguous:
        line, value = ambiguous
        day_first = dates.parse_timestamp(value, UTC, "DMY").strftime("%-d %B")
        month_first = dates.parse_timestamp(value, UTC, "MDY").strftime("%-d %B")
        raise DateOrderUnproven(
            f"{where} line {line}: {value!r} could be {day_first} or {month_first}, and no date "
            f"in the file proves which: {setting}"
        )
    return None


def file_date_order(
    where: str,
    fmt: str,
    header: list[str],
    columns: dict[str, int],
    first: list[tuple[int, list[str]]],
    again: Callable[[], Iterator[tuple[int, list[str]]]],
) -> dates.DateOrder | None:
    """The order the numeric dates of the file named `where` prove: from its first rows
    (`first`: line, cells) when they settle it, else from a pass over all of its rows
    (`again()`; only for files whose first rows hold ambiguous dates)."""
    positions = date_columns(fmt, header, columns)
    if not positions:
        return None
    setting = (
        f'set date_order = "DMY" (or "MDY") under [crm.{fmt}] in the agreement'
        if fmt not in NATIVE
        else "write dates as ISO 8601 (2023-05-03T14:22)"
    )
    try:
        return prove(iter(first), positions, where, setting)
    except DateOrderUnproven:
        return prove(again(), positions, where, setting)
