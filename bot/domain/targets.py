"""The MQL and SQL targets an agreement paces against: as typed in `[marketing]`, else derived
from the quota and the funnel in `[funnel]` with the reverse funnel (rounded up at every step,
exact fractions, as `/quota` does) — per segment where `[funnel.segments]` splits the quota,
the targets being the segments' sum. A typed target the funnel disagrees with is kept, and
said."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from bot.domain.funnel import FunnelPlan, FunnelRates, reverse_funnel

Rates = tuple[
    Fraction | None, Fraction | None, Fraction | None, Fraction | None
]  # aov, win, sql→opp, mql→sql


@dataclass(frozen=True)
class Targets:
    mqls: int | None  # what the period's MQLs pace against
    sqls: int | None
    derived_mqls: int | None  # what the quota and funnel give (None: they do not say)
    derived_sqls: int | None
    typed_mqls: int | None = None
    typed_sqls: int | None = None
    plan: FunnelPlan | None = None  # the blended quota walked back (no segments)
    segments: dict[str, FunnelPlan] = field(default_factory=dict)  # each segment's share

    @property
    def derived(self) -> bool:
        """Whether a target comes from the quota (none was typed)."""
        return self.derived_mqls is not None and (
            self.typed_mqls is None or self.typed_sqls is None
        )

    def disagreements(self) -> list[tuple[str, int, int]]:
        """(MQL | SQL, typed, what the funnel gives) for each typed target the quota does not
        give."""
        pairs = (("MQL", self.typed_mqls, self.derived_mqls),
                 ("SQL", self.typed_sqls, self.derived_sqls))  # fmt: skip
        return [(what, typed, derived) for what, typed, derived in pairs
                if typed is not None and derived is not None and typed != derived]  # fmt: skip


def _plan(quota: Fraction, rates: Rates) -> FunnelPlan | None:
    aov, win, sql_to_opp, mql_to_sql = rates
    if not (aov and win and sql_to_opp and mql_to_sql):
        return None
    return reverse_funnel(quota, FunnelRates(aov, win, sql_to_opp, mql_to_sql))


def targets(
    *,
    typed_mqls: int | None,
    typed_sqls: int | None,
    quota: Fraction | None,
    rates: Rates,
    segments: Mapping[str, tuple[Fraction, Rates]] = {},
) -> Targets:
    """The typed targets, each falling back on the reverse funnel of the quota (the sum of
    each segment's, when the quota is split: a segment's deals round up on their own)."""
    plan, plans = None, {}
    derived_mqls = derived_sqls = None
    if quota:
        if segments:
            found = {name: _plan(quota * share, own) for name, (share, own) in segments.items()}
            if all(found.values()):
                plans = {name: each for name, each in found.items() if each is not None}
                derived_mqls = sum(each.mqls for each in plans.values())
                derived_sqls = sum(each.sqls for each in plans.values())
        else:
            plan = _plan(quota, rates)
            if plan is not None:
                derived_mqls, derived_sqls = plan.mqls, plan.sqls
    return Targets(
        typed_mqls if typed_mqls is not None else derived_mqls,
        typed_sqls if typed_sqls is not None else derived_sqls,
        derived_mqls,
        derived_sqls,
        typed_mqls,
        typed_sqls,
        plan,
        plans,
    )
