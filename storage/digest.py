"""The counts behind the stand-up digest: one aggregate query per figure, each over an indexed
time range. Bounds are instants; they are compared in UTC as stored."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, and_, bindparam, distinct, func, literal, or_, select, text, true
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from storage.models import CLOCKS, LEADS, UNOWNED_OPEN

NO_SOURCE = ""


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """[since, until) with a second start for "yesterday's movement" (it may fall before
    `since`: on a period's first business day, yesterday was in the last period)."""

    since: datetime
    moved_since: datetime
    until: datetime


@dataclass(frozen=True)
class StageCounts:
    total: int  # reached the stage in [since, until)
    moved: int  # … in [moved_since, until)
    by_source: dict[str, int]  # the named sources, then (when asked) every other one found


def stage_counts(
    connection: Connection,
    *,
    stage: str,
    window: Window,
    sources: Sequence[str] = (),
    other_sources: bool = False,
) -> StageCounts:
    """How many leads reached `stage` (mql, sql, recycled) in the window: one pass over the
    stage's covering index, counting the named sources on the way (no sort). With
    `other_sources`, sources outside `sources` are grouped by name too."""
    at = LEADS.c[f"{stage}_at"]
    since, moved, until = _utc(window.since), _utc(window.moved_since), _utc(window.until)
    # only on a period's first business day does yesterday start before the period: only then
    # does a row need the period test
    in_period = (at >= since,) if moved < since else ()
    columns = [
        func.count().filter(*in_period),
        func.count().filter(at >= moved),
        *(func.count().filter(*in_period, LEADS.c.source == name) for name in sources),
    ]
    row = connection.execute(select(*columns).where(at >= min(since, moved), at < until)).one()
    total, recent, *named = (int(value or 0) for value in row)
    by_source = dict(zip(sources, named, strict=True))
    if other_sources:
        source = func.coalesce(LEADS.c.source, NO_SOURCE)
        outside = or_(LEADS.c.source.is_(None), LEADS.c.source.not_in(sources))
        rows = connection.execute(
            select(source, func.count())
            .where(at >= since, at < until, outside if sources else true())
            .group_by(source)
        )
        by_source.update({str(name): int(count) for name, count in rows})
    return StageCounts(total, recent, by_source)


def mqls_by_segment(connection: Connection, *, since: datetime, until: datetime) -> dict[str, int]:
    """MQLs of [since, until) per segment ("": none given). Only an agreement that splits its
    quota by segment asks (the segment is not in the MQL index: the period's rows are read)."""
    rows = connection.execute(
        select(LEADS.c.segment, func.count())
        .where(LEADS.c.mql_at >= _utc(since), LEADS.c.mql_at < _utc(until))
        .group_by(LEADS.c.segment)
    )
    found: dict[str, int] = {}
    for name, count in rows:
        found[str(name or "").lower()] = found.get(str(name or "").lower(), 0) + int(count)
    return found


def daily_counts(
    connection: Connection, *, stage: str, boundaries: Sequence[datetime]
) -> list[int]:
    """How many leads reached `stage` between each pair of consecutive boundaries (local
    midnights): index-only range counts, so DST-correct days cost no table reads."""
    at = LEADS.c[f"{stage}_at"]
    counts = []
    for start, end in itertools.pairwise(boundaries):
        statement = select(func.count()).where(at >= _utc(start), at < _utc(end))
        counts.append(int(connection.execute(statement).scalar() or 0))
    return counts


def daily_mqls(
    connection: Connection, *, boundaries: Sequence[datetime], sources: Sequence[str]
) -> tuple[list[int], dict[str, list[int]]]:
    """MQLs between each pair of consecutive boundaries (local midnights), in all and of each
    named source: one range count per day over the MQL covering index, the sources counted on
    the way (one pass filtering every day at once reads each row once per day: far slower)."""
    at = LEADS.c.mql_at
    totals: list[int] = []
    found: dict[str, list[int]] = {name: [] for name in sources}
    columns = [func.count(), *(func.count().filter(LEADS.c.source == name) for name in sources)]
    for start, end in itertools.pairwise(boundaries):
        total, *row = connection.execute(
            select(*columns).where(at >= _utc(start), at < _utc(end))
        ).one()
        totals.append(int(total or 0))
        for name, count in zip(sources, row, strict=True):
            found[name].append(int(count or 0))
    return totals, found


def cohort_counts(
    connection: Connection,
    *,
    since: datetime,
    until: datetime,
    as_of: datetime,
    by_segment: bool = False,
) -> dict[str, tuple[int, int]]:
    """source (segment, lowercased, with `by_segment`) → (MQLs in [since, until), of which
    became SQL before `as_of`)."""
    group = func.coalesce(func.lower(LEADS.c.segment) if by_segment else LEADS.c.source, NO_SOURCE)
    converted = and_(LEADS.c.sql_at.is_not(None), LEADS.c.sql_at < _utc(as_of))
    rows = connection.execute(
        select(group, func.count(), func.count().filter(converted))
        .where(LEADS.c.mql_at >= _utc(since), LEADS.c.mql_at < _utc(until))
        .group_by(group)
    )
    return {str(name): (int(total), int(sqls or 0)) for name, total, sqls in rows}


def recycle_reasons(
    connection: Connection, *, since: datetime, until: datetime, limit: int = 3
) -> list[tuple[str, int]]:
    """The most frequent recycle reasons in [since, until), most frequent first."""
    reason = func.coalesce(LEADS.c.recycle_reason, NO_SOURCE)
    count = func.count().label("n")
    rows = connection.execute(
        select(reason, count)
        .where(LEADS.c.recycled_at >= _utc(since), LEADS.c.recycled_at < _utc(until))
        .group_by(reason)
        .order_by(count.desc(), reason)
        .limit(limit)
    )
    return [(str(name), int(n)) for name, n in rows]


def _owned(condition, owners: Sequence[str] | None):
    if owners is None:
        return condition
    owned = select(LEADS.c.id).where(LEADS.c.owner_email.in_(owners))
    return and_(condition, CLOCKS.c.lead_id.in_(owned))


@dataclass(frozen=True)
class Response:
    """First touches made in a window: within the SLA, late, and the median business time."""

    met: int = 0
    late: int = 0
    median_minutes: float | None = None

    @property
    def total(self) -> int:
        return self.met + self.late


def first_touches(
    connection: Connection, *, since: datetime, until: datetime, owners: Sequence[str] | None
) -> Response:
    """First-touch clocks settled (met or late) in [since, until). A clock has `met_at`
    exactly when it was met or late, so no status test selects them."""
    total, late = connection.execute(
        select(func.count(), func.count().filter(CLOCKS.c.status == "late")).where(
            _owned(_touched(CLOCKS.c.met_at, since, until), owners)
        )
    ).one()
    if not total:
        return Response()
    return Response(total - late, late, _median(connection, since, until, owners, total))


def _touched(met_at, since: datetime, until: datetime):
    return and_(CLOCKS.c.rule == "first_touch", met_at >= _utc(since), met_at < _utc(until))


def _median(
    connection: Connection,
    since: datetime,
    until: datetime,
    owners: Sequence[str] | None,
    total: int,
) -> float:
    """The exact median business time: PostgreSQL's percentile_cont. SQLite walks
    `ix_sla_clock_took` in time-taken order to the middle one or two values (no sort): the
    unary `+` keeps its planner from range-scanning `met_at` and sorting instead."""
    took = CLOCKS.c.took_minutes
    if connection.dialect.name == "postgresql":
        touched = _touched(CLOCKS.c.met_at, since, until)
        statement = select(func.percentile_cont(0.5).within_group(took)).where(
            _owned(touched, owners)
        )
        return float(connection.execute(statement).scalar() or 0)
    met_at = CLOCKS.c.met_at
    unindexed = UnaryExpression(met_at, operator=custom_op("+"), type_=met_at.type)
    statement = (
        select(took)
        .where(_owned(_touched(unindexed, since, until), owners))
        .order_by(took)
        .offset((total - 1) // 2)
        .limit(2 - total % 2)
    )
    values = [float(value or 0) for value in connection.execute(statement).scalars()]
    return sum(values) / len(values)


def open_breaches(
    connection: Connection, *, at: datetime, owners: Sequence[str] | None
) -> list[tuple[str, int]]:
    """owner → leads with a clock past its deadline and still open at `at`, most first."""
    leads = func.count(distinct(CLOCKS.c.lead_id)).label("n")
    rows = connection.execute(
        select(LEADS.c.owner_email, leads)
        .select_from(CLOCKS.join(LEADS, LEADS.c.id == CLOCKS.c.lead_id))
        .where(
            _owned(and_(CLOCKS.c.status == "open", CLOCKS.c.due_at <= _utc(at)), owners),
            LEADS.c.owner_email.is_not(None),
        )
        .group_by(LEADS.c.owner_email)
        .order_by(leads.desc(), LEADS.c.owner_email)
    )
    return [(str(owner), int(n)) for owner, n in rows]


def breached_by_kind(
    connection: Connection, *, at: datetime, owners: Sequence[str] | None
) -> list[tuple[str, str, int]]:
    """(source, segment, leads) of the leads with a clock past its deadline and still open at
    `at` ("" for none given): what each is worth depends on both."""
    leads = func.count(distinct(CLOCKS.c.lead_id))
    rows = connection.execute(
        select(LEADS.c.source, LEADS.c.segment, leads)
        .select_from(CLOCKS.join(LEADS, LEADS.c.id == CLOCKS.c.lead_id))
        .where(
            _owned(and_(CLOCKS.c.status == "open", CLOCKS.c.due_at <= _utc(at)), owners),
            LEADS.c.owner_email.is_not(None),
        )
        .group_by(LEADS.c.source, LEADS.c.segment)
    )
    return [(str(source or ""), str(segment or "").lower(), int(n)) for source, segment, n in rows]


def unowned_open(connection: Connection, *, assigned_before: datetime) -> int:
    """Leads handed off (MQL) before `assigned_before` that still have no known owner, no touch
    and no decision: a breach of the routing, not of a rep."""
    # SQLite would walk every lead not yet an SQL instead (its statistics say nothing of an
    # empty partial index): it is told; PostgreSQL takes the tiny index by itself
    indexed = " INDEXED BY ix_lead_unowned_open" if connection.dialect.name == "sqlite" else ""
    before = bindparam("before", _utc(assigned_before), type_=LEADS.c.mql_at.type)
    return connection.execute(
        select(func.count())
        .select_from(text(f"lead{indexed}"))
        .where(text(UNOWNED_OPEN), text("mql_at <= :before").bindparams(before))
    ).scalar_one()


def won_cycles(
    connection: Connection, *, source: str | None = None, segment: str | None = None
) -> list[float]:
    """Days from MQL to won of every won lead (of the source or the segment), in no order:
    what a measured sales cycle is the median of."""
    rows = connection.execute(
        select(LEADS.c.mql_at, LEADS.c.closed_at).where(
            text("lead.outcome = 'won'"),  # spelt as the partial index of won leads is
            LEADS.c.closed_at >= LEADS.c.mql_at,  # (neither is NULL)
            *([LEADS.c.source == source] if source else []),
            *([func.lower(LEADS.c.segment) == segment] if segment else []),
        )
    )
    return [(_utc(closed) - _utc(mql)).total_seconds() / 86400 for mql, closed in rows]


def cohort_outcomes(
    connection: Connection, *, since: datetime, until: datetime, by: str | None = None
) -> dict[str, tuple[int, int, int, int, float, int]]:
    """The MQLs of [since, until) and how far they came, per source (`by="source"`), per
    segment (`by="segment"`, lowercased) or all ("" with `by` None): (MQLs, SQLs,
    opportunities, won, the won amounts summed, won deals with an amount)."""
    won = LEADS.c.outcome == "won"
    opportunity = or_(LEADS.c.opportunity_at.is_not(None), LEADS.c.outcome.in_(("won", "lost")))
    columns = (
        func.count(),
        func.count().filter(LEADS.c.sql_at.is_not(None)),
        func.count().filter(opportunity),
        func.count().filter(won),
        func.coalesce(func.sum(LEADS.c.amount).filter(won), 0),
        func.count().filter(won, LEADS.c.amount.is_not(None)),
    )
    group = {"source": LEADS.c.source, "segment": func.lower(LEADS.c.segment)}.get(by or "")
    key = func.coalesce(group, NO_SOURCE) if group is not None else literal(NO_SOURCE)
    statement = select(key, *columns).where(
        LEADS.c.mql_at >= _utc(since), LEADS.c.mql_at < _utc(until)
    )
    if group is not None:
        statement = statement.group_by(key)
    return {
        str(name): (int(m), int(s), int(o), int(w), float(amount or 0), int(priced))
        for name, m, s, o, w, amount, priced in connection.execute(statement)
    }


def breaches_due(
    connection: Connection, *, since: datetime, until: datetime, owners: Sequence[str] | None
) -> int:
    """Leads with a clock that fell due in [since, until) and was not met by then: late, or
    missed, or still open."""
    breached = and_(
        CLOCKS.c.due_at >= _utc(since),
        CLOCKS.c.due_at < _utc(until),
        CLOCKS.c.status.in_(("late", "missed", "open")),
    )
    return int(
        connection.execute(
            select(func.count(distinct(CLOCKS.c.lead_id)))
            .select_from(CLOCKS.join(LEADS, LEADS.c.id == CLOCKS.c.lead_id))
            .where(_owned(breached, owners))
        ).scalar()
        or 0
    )
