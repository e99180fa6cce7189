"""The stand-up digest's figures, as `bot.services.digest` computes them and the digest's
message, terminal preview and chart lay them out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from bot.domain import pacing
from bot.domain.agenda import AgendaItem
from bot.domain.agreement import TeamTerms
from bot.domain.by_when import LagWindow
from bot.domain.forecast import Forecast
from bot.domain.pacing import Pace, PaceStatus, PeriodPosition
from storage.action_items import ActionItem
from storage.digest import Response
from storage.routing import SourceDelay


@dataclass(frozen=True)
class Burnup:
    label: str  # "November 2026"
    days: list[date]  # every calendar day of the period
    actual: list[int]  # cumulative MQLs at the end of each day before D
    expected: list[float]  # the target's line at the end of each day (business days only move it)
    target: float
    tolerance: float
    # from the digest's day to the period's end: the forecast's total at the end of each day,
    # and its likely range (empty without a forecast)
    projection: list[tuple[float, float, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Conversion:
    """MQL→SQL for a group of MQLs against the agreement's assumed rate."""

    source: str | None  # the source (a segment, in `Digest.cohort_segments`); None: all
    mqls: int
    sqls: int
    assumed: Fraction | None
    tolerance: Fraction

    @property
    def rate(self) -> Fraction | None:
        return pacing.rate(self.sqls, self.mqls)

    @property
    def status(self) -> PaceStatus | None:
        return pacing.compare_rate(self.rate, self.assumed, self.tolerance)


@dataclass(frozen=True)
class Movement:
    since: date  # the previous business day: Monday's stand-up covers the weekend too
    one_day: bool
    mqls: int
    sqls: int
    recycled: int


@dataclass(frozen=True)
class Breach:
    email: str
    user_id: str | None
    leads: int


@dataclass(frozen=True)
class PeriodFigures:
    """A period's pacing, conversion, recycling and response, as of a date."""

    where: PeriodPosition
    mqls: Pace
    sqls: Pace
    sources: list[Pace]  # the agreement's split, then sources outside it (no target)
    segments: list[Pace]  # `[funnel.segments]`, then MQLs of no named segment (no target)
    conversion: list[Conversion]  # all sources first
    recycled: int
    reasons: list[tuple[str, int]]
    response: Response

    @property
    def recycle_share(self) -> Fraction | None:
        return pacing.rate(self.recycled, self.mqls.actual)

    @property
    def response_share(self) -> Fraction | None:
        return pacing.rate(self.response.met, self.response.total)


@dataclass(frozen=True)
class RoutingFigures:
    """Leads changing hands since the last stand-up, how the period's leads were shared, and
    routing delay beside rep response per source."""

    moves: Counter[str]  # reassigned_auto | reassigned | covered | returned | handed_back
    per_rep: list[tuple[str, int]]  # leads handed off this period, per rep credited
    delays: list[SourceDelay]

    @property
    def shown(self) -> bool:
        return bool(sum(self.moves.values()) or self.per_rep)


@dataclass(frozen=True)
class LagPace:
    """The MQLs arriving now, paced against the period they will close in."""

    lag: LagWindow
    mqls: Pace  # over the window's business days, against that period's MQL target


@dataclass(frozen=True)
class CheckinFigures:
    """What the reps said at the check-in about the leads still breached at the stand-up."""

    reasons: Counter[str]  # a bot.domain.checkin REASONS key → breached leads
    unanswered: int  # breached leads nobody said anything about
    blockers: list[tuple[str, str]]  # (rep's email, what blocks them)
    answers: list[tuple[str, str, str, str]]  # (rep, lead, reason, note), for the thread


@dataclass(frozen=True)
class NewTerms:
    """A version stored since the last stand-up: signed in Slack, or applied from the file."""

    version: int
    in_force_from: date
    signed_by: list[str]  # Slack user ids; empty: applied without sign-off


@dataclass(frozen=True)
class Digest:
    team: TeamTerms
    day: date
    timezone: str
    agreement_name: str
    first_touch: str  # the SLA window, as the agreement writes it
    figures: PeriodFigures
    moved: Movement
    response_moved: Response
    cohort: list[Conversion]
    cohort_since: date
    cohort_until: date
    breaches: list[Breach]
    agenda: list[AgendaItem]
    burnup: Burnup
    closing: PeriodFigures | None = None
    unowned: int = 0  # handed off past the first-touch window with no owner slabot knows
    routing: RoutingFigures | None = None  # a team that routes: its routing lines
    # the chance of reaching each target, by its pace's name ("MQLs", "SQLs", a source's)
    forecasts: dict[str, Forecast] = field(default_factory=dict)
    at_risk: Fraction | None = None  # expected pipeline of the breached leads still open
    lag: LagPace | None = None  # with a sales cycle (agreed or measured): the window's pacing
    cohort_segments: list[Conversion] = field(default_factory=list)  # `[funnel.segments]`
    new_terms: list[NewTerms] = field(default_factory=list)
    action_items: list[ActionItem] = field(default_factory=list)  # open, the earliest due first
    checkin: CheckinFigures | None = None  # a team with a check-in

    @property
    def key(self) -> str:
        return digest_key(self.team.name, self.day)


def digest_key(team: str, day: date) -> str:
    return f"digest:{team}:{day.isoformat()}"
