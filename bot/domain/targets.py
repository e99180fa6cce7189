"""The MQL and SQL targets an agreement paces against: as typed in `[marketing]`, else derived
from the quota and the funnel in `[funnel]` with the reverse funnel (rounded up at every step,
exact fractions, as `/quota` does). A typed target the funnel disagrees with is kept and said."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from bot.domain.funnel import FunnelPlan, FunnelRates, reverse_funnel


@dataclass(frozen=True)
class Targets:
    mqls: int | None  # what the period's MQLs pace against
    sqls: int | None
    plan: FunnelPlan | None  # the quota walked back, when the agreement gives it and every rate
    typed_mqls: int | None = None
    typed_sqls: int | None = None

    @property
    def derived(self) -> bool:
        """Whether a target comes from the quota (none was typed)."""
        return self.plan is not None and (self.typed_mqls is None or self.typed_sqls is None)

    def disagreements(self) -> list[tuple[str, int, int]]:
        """(MQL | SQL, typed, what the funnel gives) for each typed target the quota does not
        give."""
        if self.plan is None:
            return []
        pairs = (("MQL", self.typed_mqls, self.plan.mqls), ("SQL", self.typed_sqls, self.plan.sqls))
        return [(what, typed, derived) for what, typed, derived in pairs
                if typed is not None and typed != derived]  # fmt: skip


def targets(
    *,
    typed_mqls: int | None,
    typed_sqls: int | None,
    quota: Fraction | None,
    aov: Fraction | None,
    win: Fraction | None,
    sql_to_opp: Fraction | None,
    mql_to_sql: Fraction | None,
) -> Targets:
    """The typed targets, each falling back on the reverse funnel of the quota."""
    plan = None
    if quota and aov and win and sql_to_opp and mql_to_sql:
        plan = reverse_funnel(quota, FunnelRates(aov, win, sql_to_opp, mql_to_sql))
    return Targets(
        typed_mqls if typed_mqls is not None else (plan.mqls if plan else None),
        typed_sqls if typed_sqls is not None else (plan.sqls if plan else None),
        plan,
        typed_mqls,
        typed_sqls,
    )
