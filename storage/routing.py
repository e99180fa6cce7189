"""Routing's records: a lead changing hands (and its history), each team's rotation, covers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, and_, delete, exists, func, insert, select, text, update

from storage.alerts import utc
from storage.models import CLOCKS, COVERS, EVENTS, LEADS, TOUCHES, TURNS

# the kinds of `lead_event`
REASSIGNED, COVERED, RETURNED, HANDED_BACK, CRM_OWNER, TOLD = (
    "reassigned", "covered", "returned", "handed_back", "crm_owner", "told",
)  # fmt: skip
GIVEN = (REASSIGNED, COVERED, HANDED_BACK)  # a lead routing gave someone (counts to a cap)


@dataclass(frozen=True)
class Breach:
    """A lead whose first touch is past due, with the hand-off it is judged from."""

    lead_id: int
    owner: str
    assigned_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class HandOver:
    """A lead that moved: what the new owner and the CRM are told."""

    event_id: int
    lead_id: int
    from_owner: str | None
    to_owner: str
    source_system: str
    external_id: str


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str
    by: str
    from_owner: str | None
    to_owner: str | None
    note: str | None = None


@dataclass(frozen=True)
class CoverRow:
    id: int
    rep: str
    cover: str | None  # None: the rotation
    starts_at: datetime
    until: date


def _open_lead():
    return and_(LEADS.c.closed_at.is_(None), LEADS.c.recycled_at.is_(None))


def first_touch_breaches(
    connection: Connection, *, owners: list[str], now: datetime
) -> list[Breach]:
    """Open leads of `owners` whose first touch is past due and not snoozed."""
    if not owners:
        return []
    rows = connection.execute(
        select(CLOCKS.c.lead_id, LEADS.c.owner_email, LEADS.c.assigned_at, CLOCKS.c.due_at)
        .join(LEADS, LEADS.c.id == CLOCKS.c.lead_id)
        .where(
            CLOCKS.c.rule == "first_touch",
            CLOCKS.c.status == "open",
            CLOCKS.c.due_at <= now,
            LEADS.c.owner_email.in_(owners),
            _open_lead(),
            LEADS.c.snoozed_until.is_(None) | (LEADS.c.snoozed_until <= now),
        )
        .order_by(CLOCKS.c.due_at, CLOCKS.c.lead_id)
    )
    return [Breach(row[0], row[1], utc(row[2]), utc(row[3])) for row in rows]


def turns(connection: Connection, team: str) -> dict[str, int]:
    found = connection.execute(select(TURNS.c.turns).where(TURNS.c.team == team)).scalar()
    return dict(found or {})


def save_turns(connection: Connection, team: str, value: dict[str, int], *, at: datetime) -> None:
    changed = connection.execute(
        update(TURNS).where(TURNS.c.team == team).values(turns=value, updated_at=at)
    )
    if changed.rowcount == 0:
        connection.execute(insert(TURNS).values(team=team, turns=value, updated_at=at))


def given_since(connection: Connection, since: datetime) -> Counter[str]:
    """Leads routing gave each rep since `since` (what a daily cap counts)."""
    rows = connection.execute(
        select(EVENTS.c.to_owner, func.count())
        .where(EVENTS.c.kind.in_(GIVEN), EVENTS.c.at >= since)
        .group_by(EVENTS.c.to_owner)
    )
    return Counter({owner: count for owner, count in rows if owner})


def change_owner(
    connection: Connection,
    *,
    lead_id: int,
    to: str,
    at: datetime,
    kind: str,
    by: str,
    covered_for: str | None = None,
) -> HandOver | None:
    """Give the lead to `to` as a new hand-off (its clocks start again from `at`, its levels
    untold), and record the event. None when the lead is gone or already `to`'s."""
    lead = connection.execute(
        select(LEADS.c.owner_email, LEADS.c.source_system, LEADS.c.external_id).where(
            LEADS.c.id == lead_id
        )
    ).first()
    if lead is None or lead.owner_email == to:
        return None
    connection.execute(
        update(LEADS)
        .where(LEADS.c.id == lead_id)
        .values(
            owner_email=to,
            assigned_at=at,
            covered_for=covered_for,
            snoozed_until=None,
            clocks_stale=True,
            updated_at=at,
        )
    )
    end_hand_off(connection, [lead_id])
    event_id = connection.execute(
        insert(EVENTS)
        .values(
            lead_id=lead_id,
            at=at,
            kind=kind,
            by=by,
            from_owner=lead.owner_email,
            to_owner=to,
        )
        .returning(EVENTS.c.id)
    ).scalar_one()
    return HandOver(event_id, lead_id, lead.owner_email, to, lead.source_system, lead.external_id)


def end_hand_off(connection: Connection, lead_ids: Sequence[int]) -> None:
    """The leads' clocks go (the new hand-off's start afresh); the levels they told stay in
    the lead's history, as events."""
    kept = []
    for lead_id, rule, level, at, owner in told_before(connection, lead_ids):
        kept.append({"lead_id": lead_id, "at": at, "kind": TOLD, "by": "slabot",
                     "from_owner": owner, "to_owner": None, "note": f"{rule}|{level}"})  # fmt: skip
    if kept:
        connection.execute(insert(EVENTS), kept)
    connection.execute(delete(CLOCKS).where(CLOCKS.c.lead_id.in_(lead_ids)))


def told_before(
    connection: Connection, lead_ids: Sequence[int]
) -> list[tuple[int, str, int, datetime, str | None]]:
    """(lead, rule, level, when it was reached, the owner then) of every level told."""
    rows = connection.execute(
        select(
            CLOCKS.c.lead_id, CLOCKS.c.rule, CLOCKS.c.alerted, CLOCKS.c.warn_at,
            CLOCKS.c.due_at, CLOCKS.c.manager_at, CLOCKS.c.channel_at, LEADS.c.owner_email,
        )
        .join(LEADS, LEADS.c.id == CLOCKS.c.lead_id)
        .where(CLOCKS.c.lead_id.in_(lead_ids), CLOCKS.c.alerted > 0)
    )  # fmt: skip
    found = []
    for lead_id, rule, alerted, *instants, owner in rows:
        for level in range(1, alerted + 1):
            found.append((lead_id, rule, level, utc(instants[level - 1]), owner))
    return found


def record_event(connection: Connection, *, lead_id: int, at: datetime, kind: str, by: str,
                 from_owner: str | None, to_owner: str | None) -> None:  # fmt: skip
    """An event that changes no owner here (the CRM changed it: the import stored it)."""
    connection.execute(
        insert(EVENTS).values(
            lead_id=lead_id, at=at, kind=kind, by=by, from_owner=from_owner, to_owner=to_owner
        )
    )


def history(connection: Connection, lead_id: int) -> list[Event]:
    """The lead's changes of hands, oldest first."""
    rows = connection.execute(
        select(EVENTS).where(EVENTS.c.lead_id == lead_id).order_by(EVENTS.c.at, EVENTS.c.id)
    )
    return [
        Event(utc(row.at), row.kind, row.by, row.from_owner, row.to_owner, row.note) for row in rows
    ]


def touches_of(connection: Connection, lead_id: int) -> list[tuple[datetime, str, str]]:
    """(when, kind, by whom) of the lead's touches, oldest first."""
    rows = connection.execute(
        select(TOUCHES.c.touched_at, TOUCHES.c.kind, TOUCHES.c.rep_email)
        .where(TOUCHES.c.lead_id == lead_id)
        .order_by(TOUCHES.c.touched_at)
    )
    return [(utc(at), kind, rep or "") for at, kind, rep in rows]


def told_levels(connection: Connection, lead_id: int) -> list[tuple[str, int, datetime]]:
    """(rule, level, when it was reached) for every level the lead's current clocks told."""
    found = [(rule, level, at) for _, rule, level, at, _ in told_before(connection, [lead_id])]
    return sorted(found, key=lambda each: each[2])


# -- covers ----------------------------------------------------------------------------------
def add_cover(
    connection: Connection, *, rep: str, cover: str | None, until: date, by: str, at: datetime
) -> int:
    """A new cover for `rep` (ending any they had)."""
    connection.execute(
        update(COVERS)
        .where(COVERS.c.rep_email == rep, COVERS.c.ended_at.is_(None))
        .values(ended_at=at)
    )
    return connection.execute(
        insert(COVERS)
        .values(rep_email=rep, cover_email=cover, starts_at=at, until=until, by=by)
        .returning(COVERS.c.id)
    ).scalar_one()


def open_covers(connection: Connection) -> list[CoverRow]:
    rows = connection.execute(select(COVERS).where(COVERS.c.ended_at.is_(None)))
    return [
        CoverRow(row.id, row.rep_email, row.cover_email, utc(row.starts_at), row.until)
        for row in rows
    ]


def end_cover(connection: Connection, cover_id: int, *, at: datetime) -> None:
    connection.execute(update(COVERS).where(COVERS.c.id == cover_id).values(ended_at=at))


def arrived_during(connection: Connection, rep: str, *, since: datetime) -> list[int]:
    """Open leads handed to `rep` since `since` that no cover holds yet (their new leads)."""
    rows = connection.execute(
        select(LEADS.c.id).where(
            LEADS.c.owner_email == rep,
            LEADS.c.assigned_at >= since,
            LEADS.c.covered_for.is_(None),
            LEADS.c.first_touch_at.is_(None),
            _open_lead(),
        )
    )
    return [lead_id for (lead_id,) in rows]


def held(connection: Connection) -> list[tuple[str, int, bool]]:
    """(the rep it is held for, lead id, touched by its holder) of every open lead a cover
    holds (from the partial index of covered leads)."""
    touched = exists().where(
        TOUCHES.c.lead_id == LEADS.c.id, TOUCHES.c.touched_at >= LEADS.c.assigned_at
    )
    rows = connection.execute(
        select(LEADS.c.covered_for, LEADS.c.id, touched).where(
            text("lead.covered_for IS NOT NULL"), _open_lead()
        )
    )
    return [(str(rep), lead_id, bool(was)) for rep, lead_id, was in rows]


def release(connection: Connection, lead_id: int) -> None:
    """The cover keeps a lead they touched: it is theirs now."""
    connection.execute(update(LEADS).where(LEADS.c.id == lead_id).values(covered_for=None))


# -- the digest's routing lines --------------------------------------------------------------
@dataclass(frozen=True)
class SourceDelay:
    """Per source, over the period's hand-offs: how long routing took to give each lead an
    owner (created → assigned: operations) and the rep to touch it (assigned → first touch),
    as averages of wall time."""

    source: str
    leads: int
    routing_minutes: float | None
    response_minutes: float | None


def moves(
    connection: Connection, *, owners: list[str], since: datetime, until: datetime
) -> Counter[str]:
    """Changes of hands in [since, until) that touch `owners`, by kind; a reassignment by the
    rotation counts as `reassigned_auto`, by a person as `reassigned`."""
    rows = connection.execute(
        select(EVENTS.c.kind, EVENTS.c.by, func.count())
        .where(
            EVENTS.c.at >= since,
            EVENTS.c.at < until,
            EVENTS.c.to_owner.in_(owners) | EVENTS.c.from_owner.in_(owners),
        )
        .group_by(EVENTS.c.kind, EVENTS.c.by)
    )
    found: Counter[str] = Counter()
    for kind, by, count in rows:
        auto = kind == REASSIGNED and by == "rotation"
        found[f"{kind}_auto" if auto else kind] += count
    return found


def handed_off_per_owner(
    connection: Connection, *, owners: list[str], since: datetime, until: datetime
) -> list[tuple[str, int]]:
    """Leads handed off (MQL) in [since, until) per rep they are credited to (a covered
    lead to the rep it is held for), most first: how fairly leads were shared."""
    credited = func.coalesce(LEADS.c.covered_for, LEADS.c.owner_email).label("rep")
    count = func.count().label("n")
    rows = connection.execute(
        select(credited, count)
        .where(LEADS.c.mql_at >= since, LEADS.c.mql_at < until, credited.in_(owners))
        .group_by(credited)
        .order_by(count.desc(), credited)
    )
    return [(str(rep), int(n)) for rep, n in rows]


def _minutes(connection: Connection, start, end):
    if connection.dialect.name == "postgresql":
        return func.extract("epoch", end - start) / 60
    return (func.julianday(end) - func.julianday(start)) * 1440


def delays(
    connection: Connection, *, owners: list[str], since: datetime, until: datetime
) -> list[SourceDelay]:
    """Routing delay beside rep response, per source, for the MQLs of [since, until)."""
    lead = LEADS.c
    routed = _minutes(connection, lead.created_at, lead.assigned_at)
    touched = _minutes(connection, lead.assigned_at, lead.first_touch_at)
    rows = connection.execute(
        select(
            lead.source,
            func.count(),
            func.avg(routed).filter(lead.created_at <= lead.assigned_at),
            func.avg(touched).filter(lead.assigned_at <= lead.first_touch_at),
        )
        .where(lead.mql_at >= since, lead.mql_at < until, lead.owner_email.in_(owners))
        .group_by(lead.source)
        .order_by(func.count().desc())
    )
    return [
        SourceDelay(
            source or "", n, None if r is None else float(r), None if t is None else float(t)
        )
        for source, n, r, t in rows
    ]
