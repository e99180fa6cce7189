"""The counts behind the stand-up digest: one aggregate query per figure, each over an indexed
time range. Bounds are instants; they are compared in UTC as stored."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, and_, case, distinct, func, select

from storage.models import Lead, SlaClock

LEADS = Lead.__table__
CLOCKS = SlaClock.__table__
NO_SOURCE = ""


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """[since, until) with a second, later start for "yesterday's movement" inside it."""

    since: datetime
    moved_since: datetime
    until: datetime


def stage_counts(
    connection: Connection, *, stage: str, window: Window
) -> dict[str, tuple[int, int]]:
    """source → (reached `stage` in [since, until), of which in [moved_since, until)).
    `stage` is mql, sql or recycled; the scan is one range over the stage's indexed time."""
    at = LEADS.c[f"{stage}_at"]
    since, moved, until = _utc(window.since), _utc(window.moved_since), _utc(window.until)
    source = func.coalesce(LEADS.c.source, NO_SOURCE)
    rows = connection.execute(
        select(
            source,
            func.sum(case((at >= since, 1), else_=0)),
            func.sum(case((at >= moved, 1), else_=0)),
        )
        .where(at >= min(since, moved), at < until)
        .group_by(source)
    )
    return {str(name): (int(total or 0), int(recent or 0)) for name, total, recent in rows}


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


def cohort_counts(
    connection: Connection, *, since: datetime, until: datetime, as_of: datetime
) -> dict[str, tuple[int, int]]:
    """source → (MQLs in [since, until), of which became SQL before `as_of`)."""
    source = func.coalesce(LEADS.c.source, NO_SOURCE)
    converted = and_(LEADS.c.sql_at.is_not(None), LEADS.c.sql_at < _utc(as_of))
    rows = connection.execute(
        select(source, func.count(), func.sum(case((converted, 1), else_=0)))
        .where(LEADS.c.mql_at >= _utc(since), LEADS.c.mql_at < _utc(until))
        .group_by(source)
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


def _owned(condition, owners: Sequence[str] | None):  # type: ignore[no-untyped-def]
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
    """First-touch clocks settled (met or late) in [since, until)."""
    settled = _owned(
        and_(
            CLOCKS.c.rule == "first_touch",
            CLOCKS.c.met_at >= _utc(since),
            CLOCKS.c.met_at < _utc(until),
            CLOCKS.c.status.in_(("met", "late")),
        ),
        owners,
    )
    met, late = connection.execute(
        select(
            func.sum(case((CLOCKS.c.status == "met", 1), else_=0)),
            func.sum(case((CLOCKS.c.status == "late", 1), else_=0)),
        ).where(settled)
    ).one()
    met, late = int(met or 0), int(late or 0)
    total = met + late
    if not total:
        return Response()
    # the median: the middle one or two values in order (portable; PostgreSQL and SQLite)
    middle = connection.execute(
        select(CLOCKS.c.took_minutes)
        .where(settled)
        .order_by(CLOCKS.c.took_minutes)
        .offset((total - 1) // 2)
        .limit(2 - total % 2)
    ).scalars()
    values = [float(value or 0) for value in middle]
    return Response(met, late, sum(values) / len(values))


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
