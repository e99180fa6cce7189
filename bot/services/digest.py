"""The morning stand-up digest's figures: a team's pacing, conversion, response and breaches
as of a date, and the agenda they suggest (`bot.reports.digest` holds them; queued by
`digest_queue`)."""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from bot.domain import pacing
from bot.domain.agenda import QualitySignal, pick_agenda
from bot.domain.agreement import Agreement, TeamTerms, exact
from bot.domain.business_time import Duration, latest_start_due_by
from bot.domain.by_when import lag_window, median_cycle
from bot.domain.calendar import BusinessCalendar
from bot.domain.checkin import REASONS
from bot.domain.forecast import Forecast, forecast, per_business_day
from bot.domain.pacing import Pace, PeriodPosition
from bot.domain.quota_plan import stored_value
from bot.domain.sla_rules import Level
from bot.reports.digest import (
    Breach,
    Burnup,
    CheckinFigures,
    Conversion,
    Digest,
    LagPace,
    Movement,
    NewTerms,
    PeriodFigures,
    RoutingFigures,
)
from bot.services.clocks import refresh
from storage import digest as store
from storage import people
from storage import routing as routing_store
from storage.action_items import open_items
from storage.agreements import agreement_in_force
from storage.alerts import queue_clocks
from storage.checkins import BLOCKER
from storage.checkins import answers as checkin_answers
from storage.proposals import signed_since

# The MQL→SQL cohort: MQLs at least this old have had time to be worked …
log = logging.getLogger(__name__)
COHORT_AGE = timedelta(days=30)
# … taken over this many days before that.
COHORT_SPAN = timedelta(days=30)
OTHER_SOURCES = "other sources"  # the message's one line for sources outside the split
OTHER_SEGMENTS = "other segments"  # … and for MQLs of no segment the agreement names


class DigestError(Exception):
    """The digest cannot be computed (no agreement, unknown team)."""


def team_owners(agreement: Agreement, team: str) -> list[str] | None:
    """Whose leads the team's sales figures cover: its reps; with one team, every owner."""
    if len(agreement.teams) <= 1:
        return None
    return [rep.email for rep in agreement.reps if rep.team == team]


def resolve_team(agreement: Agreement, name: str | None) -> TeamTerms:
    if not agreement.teams:
        raise DigestError("the agreement defines no [[teams]]: add one with its channel")
    if name is None:
        return agreement.teams[0]
    team = agreement.team(name)
    if team is None:
        known = ", ".join(team.name for team in agreement.teams)
        raise DigestError(f"no team named {name!r} in the agreement (teams: {known})")
    return team


def standup_at(calendar: BusinessCalendar, team: TeamTerms, day: date) -> datetime:
    return datetime.combine(day, time.fromisoformat(team.standup), tzinfo=calendar.tz)


def compute_digest(
    engine: Engine,
    *,
    team: str | None,
    day: date | None = None,
    now: datetime | None = None,
    fresh: bool = True,
    detail: bool = False,
) -> Digest:
    """The team's digest as of the morning of `day` (default: today in the team's timezone).
    `fresh` first brings stale SLA clocks up to date (the clock's scan does so every minute;
    a slash command reads them as they are); `detail` names every source outside the split
    (the message sums them up in one line)."""
    now = now or datetime.now(UTC)
    probe = agreement_in_force(engine, on=day or now.date())
    if probe is None:
        raise DigestError("no agreement is in force: apply one with `slabot sla apply sla.toml`")
    terms = resolve_team(probe, team)
    calendar = probe.team_calendar(terms.name)
    day = day or calendar.today(now)
    agreement = agreement_in_force(engine, on=day) or probe
    terms = resolve_team(agreement, terms.name)
    calendar = agreement.team_calendar(terms.name)
    owners = team_owners(agreement, terms.name)
    if fresh:
        refresh(engine, now=now)
    until = pacing.midnight(calendar, day)
    previous = pacing.previous_business_day(calendar, day)
    moved_since = pacing.midnight(calendar, previous)
    where = pacing.position(calendar, agreement.period, day)
    cohort_until = day - COHORT_AGE
    cohort_since = cohort_until - COHORT_SPAN
    with engine.connect() as connection:
        window = store.Window(pacing.midnight(calendar, where.start), moved_since, until)
        counts = _count(connection, agreement, window, detail=detail)
        figures = _figures(connection, agreement, where, counts, window, owners)
        cohort, cohort_segments = _cohorts(
            connection,
            agreement,
            pacing.midnight(calendar, cohort_since),
            pacing.midnight(calendar, cohort_until),
            as_of=until,
        )
        response_moved = store.first_touches(
            connection, since=moved_since, until=until, owners=owners
        )
        as_of = min(now, standup_at(calendar, terms, day))
        held = store.open_breaches(connection, at=as_of, owners=owners)
        known = people.user_ids(connection, [email for email, _ in held])
        breaches = [Breach(email, known.get(email.lower()), leads) for email, leads in held]
        at_risk = _at_risk(agreement, store.breached_by_kind(connection, at=as_of, owners=owners))
        unowned = store.unowned_open(
            connection,
            assigned_before=latest_start_due_by(
                calendar, Duration.parse(agreement.sales.first_touch), as_of
            ),
        )
        named = [pace.name for pace in figures.sources if pace.target]
        burnup, by_source = _burnup(connection, calendar, where, day, figures.mqls, named)
        forecasts = _forecasts(connection, calendar, burnup, by_source, figures)
        if "MQLs" in forecasts:
            projection = _projection(calendar, burnup, forecasts["MQLs"], day)
            burnup = dataclasses.replace(burnup, projection=projection)
        lag = _lag(connection, agreement, calendar, day, figures.mqls)
        items = open_items(connection, team=terms.name, at=now)  # as they stand when asked
        checkin = _checkin(connection, agreement, terms, day, as_of) if terms.checkin else None
        last_standup = standup_at(calendar, terms, previous)
        new_terms = [  # signed in Slack, or a new file (not a Slack set-up change)
            NewTerms(version, starts, [str(each.get("user")) for each in signed])
            for version, starts, signed, by in signed_since(connection, last_standup)
            if signed or (by.startswith("cli:") and version > 1)
        ]
        routing = None
        if terms.routing.reassigns or terms.routing.reps:
            since = last_standup
            routing = _routing(connection, agreement, terms.name, window, since=since, until=as_of)
        closing = None
        if pacing.is_first_business_day(calendar, agreement.period, day):
            closing = _closing(connection, engine, agreement, terms.name, day, owners, until)
    moved = Movement(
        since=previous,
        one_day=previous == day - timedelta(days=1),
        mqls=counts.mql.moved,
        sqls=counts.sql.moved,
        recycled=counts.recycled.moved,
    )
    agenda = pick_agenda(
        wrong_owner=checkin.reasons["wrong_owner"] if checkin else 0,
        paces=[figures.mqls, figures.sqls, *[p for p in figures.sources if p.target]],
        breaches=[(b.email, b.leads) for b in breaches],
        quality=[
            QualitySignal(c.source, c.rate, c.assumed, c.status)  # type: ignore[arg-type]
            for c in cohort
            if c.status is not None and c.mqls >= 20  # too few MQLs say nothing yet
        ],
        response_share=figures.response_share,
        recycle_reason=figures.reasons[0] if figures.reasons else None,
    )
    return Digest(
        team=terms,
        day=day,
        timezone=calendar.timezone,
        agreement_name=agreement.agreement.name,
        first_touch=agreement.sales.first_touch,
        figures=figures,
        moved=moved,
        response_moved=response_moved,
        cohort=cohort,
        cohort_segments=cohort_segments,
        cohort_since=cohort_since,
        cohort_until=cohort_until - timedelta(days=1),
        breaches=breaches,
        agenda=agenda,
        burnup=burnup,
        closing=closing,
        unowned=unowned,
        routing=routing,
        forecasts=forecasts,
        at_risk=at_risk,
        lag=lag,
        new_terms=new_terms,
        action_items=items,
        checkin=checkin,
    )


def _checkin(
    connection: Connection, agreement: Agreement, team: TeamTerms, day: date, at: datetime
) -> CheckinFigures:
    """The check-in's answers about the team's leads still breached at the stand-up."""
    reps = [rep.email for rep in agreement.reps if rep.team == team.name]
    clocks = queue_clocks(connection, owners=reps, now=at, min_level=Level.BREACHED)
    breached = {clock.lead.id: clock.lead for clock in clocks}
    answers = checkin_answers(connection, team=team.name, day=day)
    about = [a for a in answers if a.lead_id in breached]
    return CheckinFigures(
        reasons=Counter(a.reason for a in about),
        unanswered=len(breached) - len({a.lead_id for a in about}),
        blockers=[(a.rep_email, a.note) for a in answers if a.lead_id == BLOCKER and a.note],
        answers=[
            (a.rep_email, breached[a.lead_id].company or breached[a.lead_id].name or "a lead",
             REASONS[a.reason], a.note)
            for a in about
        ],
    )  # fmt: skip


def _lag(
    connection: Connection,
    agreement: Agreement,
    calendar: BusinessCalendar,
    day: date,
    mqls: Pace,
) -> LagPace | None:
    """With a sales cycle (the agreement's, else measured from 20 won leads or more): the
    MQLs arriving since the window of the period they close in opened, paced against its
    target (the agreement in force now: the later period's is not known yet)."""
    if not mqls.target:
        return None
    measured = None
    if agreement.funnel.cycle:
        cycle = Duration.parse(agreement.funnel.cycle)
    else:
        measured = median_cycle(store.won_cycles(connection))
        if measured is None:
            return None
        cycle = measured[0]
    lag = lag_window(
        day, agreement.period, cycle, calendar, measured_from=measured[1] if measured else None
    )
    first = lag.window.first
    arrived = 0
    if first < day:
        bounds = [pacing.midnight(calendar, first), pacing.midnight(calendar, day)]
        arrived = store.daily_counts(connection, stage="mql", boundaries=bounds)[0]
    return LagPace(lag, Pace("MQLs", arrived, mqls.target, lag.where, mqls.tolerance))


def _routing(
    connection: Connection,
    agreement: Agreement,
    team: str,
    window: store.Window,
    *,
    since: datetime,
    until: datetime,
) -> RoutingFigures:
    """The routing lines: moves since the last stand-up, the period's leads per rep, and
    routing delay beside rep response per source."""
    reps = [rep.email for rep in agreement.reps if rep.team == team]
    period = {"since": window.since, "until": window.until}
    return RoutingFigures(
        moves=routing_store.moves(connection, owners=reps, since=since, until=until),
        per_rep=routing_store.handed_off_per_owner(connection, owners=reps, **period),
        delays=routing_store.delays(connection, owners=reps, **period),
    )


@dataclass(frozen=True)
class _Counts:
    """Each stage counted once for a window (MQLs per source of the agreement's split)."""

    mql: store.StageCounts
    sql: store.StageCounts
    recycled: store.StageCounts


def _count(
    connection: Connection, agreement: Agreement, window: store.Window, *, detail: bool
) -> _Counts:
    split = list(agreement.marketing.sources)
    return _Counts(
        mql=store.stage_counts(
            connection, stage="mql", window=window, sources=split, other_sources=detail
        ),
        sql=store.stage_counts(connection, stage="sql", window=window),
        recycled=store.stage_counts(connection, stage="recycled", window=window),
    )


def _figures(
    connection: Connection,
    agreement: Agreement,
    where: PeriodPosition,
    counts: _Counts,
    window: store.Window,
    owners: list[str] | None,
    conversion: list[Conversion] | None = None,
) -> PeriodFigures:
    marketing, tolerance = agreement.marketing, exact(agreement.agreement.tolerance)
    goal = agreement.targets()  # as typed, else from the quota and the funnel

    def pace(name: str, actual: int, target: Fraction | int | None) -> Pace:
        return Pace(name, actual, Fraction(target) if target else None, where, tolerance)

    split, found = marketing.sources, counts.mql.by_source
    sources = [
        pace(name, found[name], pacing.split_target(goal.mqls, split, name)) for name in split
    ]
    outside = {name: n for name, n in found.items() if name not in split}
    if split and outside:  # by name (the details), largest first
        ordered = sorted(outside.items(), key=lambda item: (-item[1], item[0]))
        sources += [pace(name, n, None) for name, n in ordered if n]
    elif split and counts.mql.total > sum(found.values()):  # one line for all the others
        sources.append(pace(OTHER_SOURCES, counts.mql.total - sum(found.values()), None))
    segments = []
    shares = agreement.funnel.segments
    if shares:
        found = store.mqls_by_segment(connection, since=window.since, until=window.until)
        for name, terms in shares.items():
            own = goal.segments.get(name)
            target: Fraction | None = None
            if own is not None and goal.typed_mqls is None:
                target = Fraction(own.mqls)
            elif goal.mqls:
                target = goal.mqls * exact(terms.share)  # a typed target, split by share
            segments.append(pace(name, found.get(name, 0), target))
        others = sum(n for name, n in found.items() if name not in shares)
        if others:
            segments.append(pace(OTHER_SEGMENTS, others, None))
    return PeriodFigures(
        where=where,
        mqls=pace("MQLs", counts.mql.total, goal.mqls),
        sqls=pace("SQLs", counts.sql.total, goal.sqls),
        sources=sources,
        segments=segments,
        conversion=conversion or [],
        recycled=counts.recycled.total,
        reasons=store.recycle_reasons(connection, since=window.since, until=window.until),
        response=store.first_touches(
            connection, since=window.since, until=window.until, owners=owners
        ),
    )


def _cohorts(
    connection: Connection,
    agreement: Agreement,
    since: datetime,
    until: datetime,
    *,
    as_of: datetime,
) -> tuple[list[Conversion], list[Conversion]]:
    """MQL→SQL of the MQLs of [since, until) by `as_of`: all and per source, then per segment
    of `[funnel.segments]` (none without)."""

    def counts(by_segment: bool) -> dict[str, tuple[int, int]]:
        return store.cohort_counts(
            connection, since=since, until=until, as_of=as_of, by_segment=by_segment
        )

    cohort = _conversions(agreement, counts(False))
    if not agreement.funnel.segments:
        return cohort, []
    return cohort, _conversions(agreement, counts(True), segments=True)[1:]  # the blend: once


def _conversions(
    agreement: Agreement, counts: dict[str, tuple[int, int]], *, segments: bool = False
) -> list[Conversion]:
    """MQL→SQL for all sources, then per source (per segment with `segments`; most MQLs
    first), each against its assumption (its own override, else the blended rate)."""
    tolerance = exact(agreement.agreement.tolerance)

    def assumed(name: str) -> Fraction | None:
        if segments:
            return stored_value(agreement, None, "mql_to_sql", name)
        return stored_value(agreement, name, "mql_to_sql")

    blend = Conversion(
        None,
        sum(mqls for mqls, _ in counts.values()),
        sum(sqls for _, sqls in counts.values()),
        stored_value(agreement, None, "mql_to_sql"),
        tolerance,
    )
    named = sorted(
        ((name, mqls, sqls) for name, (mqls, sqls) in counts.items() if name),
        key=lambda row: (-row[1], row[0]),
    )
    per_source = [
        Conversion(name, mqls, sqls, assumed(name), tolerance) for name, mqls, sqls in named
    ]
    return [blend, *per_source] if blend.mqls else []


def _at_risk(agreement: Agreement, breached: list[tuple[str, str, int]]) -> Fraction | None:
    """The expected pipeline in the breached leads: each worth an MQL of its source and
    segment (None when the funnel says what none is worth)."""
    values = [
        (agreement.mql_value(source or None, segment or None), leads)
        for source, segment, leads in breached
    ]
    known = [value * leads for value, leads in values if value is not None]
    return sum(known, Fraction(0)) if known else None


def _forecasts(
    connection: Connection,
    calendar: BusinessCalendar,
    burnup: Burnup,
    by_source: dict[str, list[int]],
    figures: PeriodFigures,
) -> dict[str, Forecast]:
    """The chance of reaching each target (MQLs, SQLs, each source's share), from the spread
    of its business days so far (`by_source`: the burn-up's days' MQLs of each source)."""
    where = figures.mqls.where
    if not where.remaining or not burnup.actual:
        return {}
    days = burnup.days[: len(burnup.actual)]
    boundaries = [pacing.midnight(calendar, d) for d in [*days, days[-1] + timedelta(days=1)]]
    daily = {"MQLs": [b - a for a, b in itertools.pairwise([0, *burnup.actual])]}
    if figures.sqls.target:
        daily["SQLs"] = store.daily_counts(connection, stage="sql", boundaries=boundaries)
    daily |= by_source
    found = {}
    for pace in (figures.mqls, figures.sqls, *figures.sources):
        if pace.target and pace.name in daily:
            chance = forecast(
                per_business_day(daily[pace.name], days, calendar),
                actual=pace.actual,
                remaining=where.remaining,
                target=float(pace.target),
            )
            if chance is not None:
                found[pace.name] = chance
    return found


def _projection(
    calendar: BusinessCalendar, burnup: Burnup, chance: Forecast, day: date
) -> list[tuple[float, float, float]]:
    """The forecast's total at the end of each day from `day` to the period's end."""
    ahead = burnup.days[len(burnup.actual) :]
    return [chance.after(calendar.business_days(day, d + timedelta(days=1))) for d in ahead]


def _burnup(
    connection: Connection,
    calendar: BusinessCalendar,
    where: PeriodPosition,
    day: date,
    mqls: Pace,
    sources: list[str],
) -> tuple[Burnup, dict[str, list[int]]]:
    """Cumulative MQLs per calendar day of the period up to D, beside the target's line; and
    those days' MQLs of each of `sources` (counted on the same pass, for the forecasts)."""
    days = [where.start + timedelta(days=n) for n in range((where.end - where.start).days)]
    seen = [d for d in days if d < day]
    boundaries = [pacing.midnight(calendar, d) for d in [*seen, day]] if seen else []
    daily, by_source = store.daily_mqls(connection, boundaries=boundaries, sources=sources)
    cumulative, total = [], 0
    for count in daily:
        total += count
        cumulative.append(total)
    expected = [
        (mqls.target or 0)
        * calendar.business_days(where.start, d + timedelta(days=1))
        / (where.business_days or 1)
        for d in days
    ]
    burnup = Burnup(
        label=where.label,
        days=days,
        actual=cumulative,
        expected=[float(value) for value in expected],
        target=float(mqls.target or 0),
        tolerance=float(mqls.tolerance),
    )
    return burnup, by_source


def _closing(
    connection: Connection,
    engine: Engine,
    current: Agreement,
    team: str,
    day: date,
    owners: list[str] | None,
    as_of: datetime,
) -> PeriodFigures | None:
    """The period that just ended, every day completed, against the version in force on its
    last business day."""
    calendar = current.team_calendar(team)
    period_start = pacing.position(calendar, current.period, day).start
    last = pacing.previous_business_day(calendar, period_start)
    agreement = agreement_in_force(engine, on=last)
    if agreement is None:
        return None
    calendar = agreement.team_calendar(team)
    closed = pacing.closing_position(calendar, current.period, day)
    since, until = pacing.midnight(calendar, closed.start), pacing.midnight(calendar, closed.end)
    window = store.Window(since, since, until)
    conversion = _conversions(
        agreement,
        store.cohort_counts(connection, since=since, until=until, as_of=as_of),
    )
    counts = _count(connection, agreement, window, detail=False)
    return _figures(connection, agreement, closed, counts, window, owners, conversion)


# -- render and post ---------------------------------------------------------------------------
