"""The `/quota` grammar, shared by the slash command and `slabot quota`.

    /quota [AMOUNT] [aov=AMOUNT] [win=PCT] [sql2opp=PCT] [mql2sql=PCT]
           [period=month|quarter|year] [source=NAME | segment=NAME]

Every mistake raises :class:`QuotaInputError` with one specific sentence; nothing else escapes.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from fractions import Fraction

MAX_AMOUNT = Fraction(10**12)  # a trillion dollars: beyond that it is a typo, not a quota
MAX_TEXT = 500
PERIODS = {
    "month": "month",
    "monthly": "month",
    "quarter": "quarter",
    "quarterly": "quarter",
    "year": "year",
    "yearly": "year",
    "annual": "year",
}
RATE_KEYS = ("win", "sql2opp", "mql2sql")
KEYS = ("aov", *RATE_KEYS, "period", "source", "segment")
ALIASES = {
    "quota": "quota",
    "sql_to_opp": "sql2opp",
    "mql_to_sql": "mql2sql",
    "win_rate": "win",
    "deal": "aov",
}
_AMOUNT = re.compile(r"^\$?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?([kmb])?$", re.IGNORECASE)
_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}
_PCT = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)(%?)$")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
_LABELS = {
    "quota": "the quota",
    "aov": "aov (average deal size)",
    "win": "win (win rate)",
    "sql2opp": "sql2opp (SQL→opportunity rate)",
    "mql2sql": "mql2sql (MQL→SQL rate)",
}


class QuotaInputError(ValueError):
    """What was wrong with the input, in one sentence a user can act on."""


@dataclass(frozen=True)
class QuotaRequest:
    """The values a user gave; None means "use the stored assumption"."""

    quota: Fraction | None = None
    aov: Fraction | None = None
    win: Fraction | None = None
    sql2opp: Fraction | None = None
    mql2sql: Fraction | None = None
    period: str | None = None
    source: str | None = None
    segment: str | None = None
    help: bool = False
    given: tuple[str, ...] = field(default=())


def label(key: str) -> str:
    return _LABELS.get(key, key)


def parse_amount(text: str, *, what: str = "the quota") -> Fraction:
    """`500000`, `500,000`, `$500k`, `1.2M`, `750K` → an exact dollar amount."""
    raw = text.strip()
    if raw.startswith("-"):
        raise QuotaInputError(f"{what} can't be negative (got `{_cut(raw)}`).")
    match = _AMOUNT.match(raw)
    if not match:
        raise QuotaInputError(
            f"`{_cut(raw)}` is not an amount for {what}; "
            "write it like 500000, 500,000, $500k or 1.2M."
        )
    whole, decimals, suffix = match.groups()
    value = Fraction(whole.replace(",", "") + (decimals or "")) * _SUFFIX[(suffix or "").lower()]
    if value == 0:
        raise QuotaInputError(f"{what} must be more than zero (got `{_cut(raw)}`).")
    if value > MAX_AMOUNT:
        raise QuotaInputError(
            f"{what} of `{_cut(raw)}` is more than $1 trillion; check the amount."
        )
    return value


def parse_rate(text: str, *, key: str) -> Fraction:
    """`23%` or `0.23` → Fraction(23, 100). A bare number above 1 is almost always a typo."""
    raw = text.strip()
    name = label(key)
    if raw.startswith("-"):
        raise QuotaInputError(f"{name} can't be negative (got `{_cut(raw)}`).")
    match = _PCT.match(raw)
    if not match:
        raise QuotaInputError(f"`{_cut(raw)}` is not a rate for {name}; write it like 23% or 0.23.")
    number, percent = match.groups()
    value = Fraction(number)
    if percent:
        value /= 100
    elif value > 1:
        raise QuotaInputError(f"{name}: `{_cut(raw)}` is above 1 — did you mean {_cut(raw)}%?")
    if value == 0:
        raise QuotaInputError(
            f"{name} must be above 0 % (got `{_cut(raw)}`); nothing converts at 0 %."
        )
    if value > 1:
        raise QuotaInputError(f"{name} can't be above 100 % (got `{_cut(raw)}`).")
    return value


def _normalise(text: str) -> list[str]:
    text = text.replace("\u00a0", " ").replace("\uff05", "%")
    text = re.sub(r"\s*=\s*", "=", text.strip())
    return text.split()


def _cut(text: str, limit: int = 40) -> str:
    """An excerpt of what the user typed, to quote back (a reply never echoes a whole line)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return f" — did you mean `{close[0]}=`?" if close else ""


def parse_quota_args(text: str) -> QuotaRequest:
    """Parse the text after `/quota` (or the words after `slabot quota`)."""
    if len(text) > MAX_TEXT:
        raise QuotaInputError(f"that is {len(text)} characters; /quota takes a short line.")
    tokens = _normalise(text)
    if tokens and tokens[0].lower() in ("help", "-h", "--help", "?"):
        return QuotaRequest(help=True)
    values: dict[str, object] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        key = key.lower()
        if not sep:
            key, value = "quota", token
            if "quota" in values:
                raise QuotaInputError(
                    f"two amounts given (`{_cut(str(values['quota']))}` and `{_cut(token)}`); "
                    "give the quota once, and other values as key=value."
                )
            if not re.match(r"^[-$\d.,]", token):
                hint = (
                    " — did you mean `help`?"
                    if difflib.get_close_matches(token.lower(), ["help"], cutoff=0.6)
                    else ""
                )
                raise QuotaInputError(
                    f"`{_cut(token)}` is neither an amount nor a key=value setting{hint}"
                )
        else:
            key = ALIASES.get(key, key)
            if key not in KEYS and key != "quota":
                raise QuotaInputError(
                    f"unknown setting `{_cut(token.partition('=')[0])}`{_suggest(key, KEYS)} "
                    f"(known: {', '.join(k + '=' for k in KEYS)})"
                )
            if key in values:
                raise QuotaInputError(f"`{key}` is given twice; give each value once.")
            if not value:
                raise QuotaInputError(f"`{key}=` needs a value, e.g. {EXAMPLES[key]}.")
        values[key] = value
    return _build(values)


EXAMPLES = {
    "quota": "quota=500k",
    "aov": "aov=2k",
    "win": "win=23%",
    "sql2opp": "sql2opp=82%",
    "mql2sql": "mql2sql=34%",
    "period": "period=quarter",
    "source": "source=outbound",
    "segment": "segment=enterprise",
}


def _build(values: dict[str, object]) -> QuotaRequest:
    parsed: dict[str, object] = {}
    if "quota" in values:
        parsed["quota"] = parse_amount(str(values["quota"]), what="the quota")
    if "aov" in values:
        parsed["aov"] = parse_amount(str(values["aov"]), what="aov (average deal size)")
    for key in RATE_KEYS:
        if key in values:
            parsed[key] = parse_rate(str(values[key]), key=key)
    if "period" in values:
        period = str(values["period"]).lower()
        if period not in PERIODS:
            raise QuotaInputError(f"period must be month, quarter or year (got `{_cut(period)}`).")
        parsed["period"] = PERIODS[period]
    for key, example in (("source", "outbound"), ("segment", "enterprise")):
        if key in values:
            name = str(values[key]).lower()
            if not _SOURCE.match(name):
                raise QuotaInputError(
                    f"`{_cut(name)}` is not a {key} name; "
                    f"use letters, digits, - or _ (e.g. {example})."
                )
            parsed[key] = name
    if "source" in parsed and "segment" in parsed:
        raise QuotaInputError("give a source or a segment, not both: each has its own funnel.")
    given = tuple(
        k for k in ("quota", "aov", *RATE_KEYS, "period", "source", "segment") if k in parsed
    )
    return QuotaRequest(**parsed, given=given)  # type: ignore[arg-type]
