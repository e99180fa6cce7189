"""Recalibration (pure): a quarter's actual conversion rates, to replace the assumed ones.

The cohort is the MQLs that arrived in the quarter, as far as they have come by now: of them,
the share that became SQLs (MQL→SQL), of those SQLs the share that became opportunities
(SQL→opp), of those the share won (win rate), and the won deals' mean amount (AOV). A rate is
measured on its own denominator; one measured on fewer than MIN_SAMPLE keeps the assumed value
and is flagged, since a handful of leads says little about the next quarter."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

MIN_SAMPLE = 20  # the denominator a rate needs before it replaces the assumed one
RATES = ("mql_to_sql", "sql_to_opp", "win", "aov")


@dataclass(frozen=True)
class Observed:
    """One group's cohort (all MQLs, a source's, a segment's)."""

    mqls: int
    sqls: int
    opportunities: int
    won: int
    won_amount: Fraction  # the won deals' amounts, summed (those with one)
    priced: int  # won deals with an amount


@dataclass(frozen=True)
class Measured:
    key: str  # mql_to_sql | sql_to_opp | win | aov
    actual: Fraction | None  # None: nothing to measure on
    sample: int  # the denominator it was measured on
    assumed: Fraction | None

    @property
    def flagged(self) -> bool:
        """Too few leads: the assumed value stays."""
        return self.sample < MIN_SAMPLE

    @property
    def proposed(self) -> Fraction | None:
        return self.assumed if self.flagged or self.actual is None else self.actual


def measure(observed: Observed, assumed: dict[str, Fraction | None]) -> list[Measured]:
    """Each rate of the group, beside the value the agreement assumes."""
    pairs = {
        "mql_to_sql": (observed.sqls, observed.mqls),
        "sql_to_opp": (observed.opportunities, observed.sqls),
        "win": (observed.won, observed.opportunities),
    }
    found = [
        Measured(key, Fraction(part, whole) if whole else None, whole, assumed.get(key))
        for key, (part, whole) in pairs.items()
    ]
    aov = observed.won_amount / observed.priced if observed.priced else None
    found.append(Measured("aov", aov, observed.priced, assumed.get("aov")))
    return found


def toml_value(key: str, value: Fraction) -> float | int:
    """As the agreement writes it: a rate to four places, an AOV in whole currency units."""
    if key == "aov":
        return int(value + Fraction(1, 2))
    return round(float(value), 4)
