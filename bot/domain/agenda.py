"""What is most worth the stand-up's 15 minutes: the biggest gap, the rep holding the most
breached leads, and the quality signal. Pure: figures in, three agenda items out."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from bot.domain.pacing import Pace, PaceStatus


@dataclass(frozen=True)
class AgendaItem:
    kind: str  # gap | on_pace | routing | breaches | no_breaches | quality | recycling | response
    subject: str = ""  # what the item is about (a pace's name, a rep, a source)
    figure: Fraction | float | int | None = None
    compare: Fraction | float | int | None = None


@dataclass(frozen=True)
class QualitySignal:
    """A conversion rate against its assumption (`source` None for the blend)."""

    source: str | None
    actual: Fraction
    assumed: Fraction
    status: PaceStatus


def biggest_gap(paces: list[Pace]) -> AgendaItem:
    """The pace furthest behind expected, relative to its expectation (of two as far behind,
    the one missing more: both at 0 %, the bigger target); or, if none is behind, the one with
    the least room to spare."""
    judged = [pace for pace in paces if pace.pace is not None]
    if not judged:
        return AgendaItem("on_pace")
    worst = min(judged, key=lambda pace: (pace.pace, -(pace.gap or 0), pace.name))
    if worst.status is PaceStatus.BEHIND:
        return AgendaItem("gap", worst.name, worst.gap, worst.needed_per_day)
    return AgendaItem("on_pace", worst.name, worst.pace)


def pick_agenda(
    *,
    paces: list[Pace],
    breaches: list[tuple[str, int]],
    quality: list[QualitySignal],
    response_share: Fraction | None,
    recycle_reason: tuple[str, int] | None,
    wrong_owner: int = 0,
) -> list[AgendaItem]:
    """Three items: the gap, who needs help with breached leads (breached leads the check-in
    says are with the wrong owner first: a routing problem beats a rep's backlog), and the
    quality signal."""
    items = [biggest_gap(paces)]
    if wrong_owner:
        items.append(AgendaItem("routing", figure=wrong_owner, compare=sum(n for _, n in breaches)))
    elif breaches:
        rep, count = breaches[0]
        items.append(AgendaItem("breaches", rep, count, sum(n for _, n in breaches)))
    elif response_share is not None and response_share < 1:
        items.append(AgendaItem("response", figure=response_share))
    else:
        items.append(AgendaItem("no_breaches"))
    behind = [signal for signal in quality if signal.status is PaceStatus.BEHIND]
    if behind:
        worst = min(behind, key=lambda signal: signal.actual / signal.assumed)
        items.append(AgendaItem("quality", worst.source or "", worst.actual, worst.assumed))
    elif recycle_reason is not None:
        items.append(AgendaItem("recycling", recycle_reason[0], recycle_reason[1]))
    elif quality:
        blend = quality[0]
        items.append(AgendaItem("quality_ok", blend.source or "", blend.actual, blend.assumed))
    return items
