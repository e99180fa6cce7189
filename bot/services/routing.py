"""Routing: a breached lead nobody touched goes to the next available rep of its team (the
agreement's `[teams.routing]`), a rep who is away is covered and gets their leads back on
return, and a lead handed back or reassigned by hand changes owner. Each change is a new
hand-off for its new owner: told once by DM, and written to the CRM as the lead's owner.

Everything here runs in the caller's transaction; the scan holds its lock, so two clocks
route a lead once."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Connection

from bot.domain.agreement import Agreement
from bot.domain.business_time import Duration
from bot.domain.routing import OUT_OF_OFFICE, OWNER, next_in_rotation, why_skipped
from bot.intake.write_back import WriteBack
from bot.slack.messages.routing import render_handoff
from bot.slack.render import Renderer
from storage import outbox
from storage import routing as store
from storage.alerts import claim_action, lead_row
from storage.outbox import Kind

log = logging.getLogger(__name__)
ROTATION = "rotation"  # who routed a lead that no person moved
CAP_WINDOW = timedelta(hours=24)  # a rep's daily cap counts the leads routed to them in it


@dataclass
class Routing:
    """What a change of hands is done with: the terms, the sentences, the CRMs to write."""

    agreement: Agreement
    renderer: Renderer
    crms: tuple[str, ...]  # CRMs this install writes (their leads' owners are written back)
    now: datetime
    # leads routing gave each rep in the last 24 hours (what a cap counts): read once a pass,
    # then kept up to date by the pass's own moves
    given: Counter[str] | None = field(default=None, compare=False, repr=False)

    def given_today(self, connection: Connection) -> Counter[str]:
        if self.given is None:
            self.given = store.given_since(connection, self.now - CAP_WINDOW)
        return self.given


def route(connection: Connection, routing: Routing) -> list[store.HandOver]:
    """The clock's routing, before it tells anyone: covers first (a rep away hands on their new
    leads; a rep back gets theirs again), then breaches past each team's `reassign_after`."""
    moved = _covers(connection, routing)
    agreement, now = routing.agreement, routing.now
    for team in agreement.teams:
        if not team.routing.reassigns:
            continue
        after = Duration.parse(team.routing.reassign_after)
        owners = [rep.email for rep in agreement.reps if rep.team == team.name]
        for breach in store.first_touch_breaches(connection, owners=owners, now=now):
            if after.after(agreement.rep_calendar(breach.owner), breach.due_at) > now:
                continue
            given = routing.given_today(connection)
            to, turns = _pick(connection, agreement, now, team.name, exclude=breach.owner,
                              given=given)  # fmt: skip
            key = f"reassign:{breach.lead_id}:{breach.assigned_at.isoformat()}"
            if to is None or not claim_action(connection, key=key, at=now):
                continue  # nobody can take it now: the next scan tries again
            store.save_turns(connection, team.name, turns, at=now)
            moved += _move(connection, routing, breach.lead_id, to, kind=store.REASSIGNED,
                           by=ROTATION)  # fmt: skip
    return moved


def manager_routes(
    connection: Connection, agreement: Agreement, owners: list[str], *, now: datetime
) -> dict[str, tuple[list[str], str | None]]:
    """For a manager's DM: each owner's teammates, and whom the rotation would give their
    lead now (nothing stored), the Reassign picker's choice."""
    found: dict[str, tuple[list[str], str | None]] = {}
    given = store.given_since(connection, now - CAP_WINDOW)
    for owner in owners:
        rep = agreement.rep(owner)
        if rep is None:
            continue
        chosen, _ = _pick(connection, agreement, now, rep.team, exclude=owner, given=given)
        found[owner] = (agreement.teammates(owner), chosen)
    return found


def reassign(
    connection: Connection, routing: Routing, lead_id: int, to: str, *, by: str
) -> store.HandOver | None:
    """A person's Reassign to…: None when the lead is already `to`'s."""
    moved = _move(connection, routing, lead_id, to, kind=store.REASSIGNED, by=by)
    return moved[0] if moved else None


def hand_back(
    connection: Connection, routing: Routing, lead_id: int, *, by: str
) -> store.HandOver | None:
    """The owner cannot work the lead: the rotation gives it to the next available rep of
    their team (None: nobody can take it now, and it stays)."""
    lead = lead_row(connection, lead_id)
    rep = routing.agreement.rep(lead.owner_email if lead else None)
    if lead is None or rep is None:
        return None
    to = _next(connection, routing, rep.team, exclude=rep.email)
    if to is None:
        return None
    moved = _move(connection, routing, lead_id, to, kind=store.HANDED_BACK, by=by)
    return moved[0] if moved else None


def cover(
    connection: Connection,
    routing: Routing,
    lead_id: int,
    *,
    cover_email: str | None,
    until: date,
    by: str,
) -> store.HandOver | None:
    """Cover until…: the owner's leads go to `cover_email` (None: the rotation) until the
    owner's day `until`, this lead now; they come back when the owner returns."""
    lead = lead_row(connection, lead_id)
    owner = lead.owner_email if lead else None
    if lead is None or owner is None:
        return None
    store.add_cover(connection, rep=owner, cover=cover_email, until=until, by=by, at=routing.now)
    to = cover_email or _team_next(connection, routing, owner)
    if to is None:
        return None
    moved = _move(connection, routing, lead_id, to, kind=store.COVERED, by=by, covered_for=owner)
    return moved[0] if moved else None


# -- covers ------------------------------------------------------------------------------
def _covers(connection: Connection, routing: Routing) -> list[store.HandOver]:
    agreement, now = routing.agreement, routing.now
    moved: list[store.HandOver] = []
    away: dict[str, tuple[str | None, datetime]] = {}  # rep → (cover, since)
    for row in store.open_covers(connection):
        if agreement.rep_calendar(row.rep).today(now) > row.until:
            store.end_cover(connection, row.id, at=now)
        else:
            away[row.rep] = (row.cover, row.starts_at)
    for rep in agreement.reps:  # out of office today, in a team that routes: the rotation
        team = agreement.team(rep.team)
        if rep.email in away or team is None or not team.routing.reassigns:
            continue
        calendar = agreement.rep_calendar(rep.email)
        today = calendar.today(now)
        if calendar.closed_reason(today) == OUT_OF_OFFICE:
            midnight = datetime.combine(today, datetime.min.time(), calendar.tz)
            away[rep.email] = (None, midnight)
    for rep_email, (cover_email, since) in away.items():
        for lead_id in store.arrived_during(connection, rep_email, since=since):
            to = cover_email or _team_next(connection, routing, rep_email)
            if to is not None:
                moved += _move(
                    connection, routing, lead_id, to, kind=store.COVERED, by=ROTATION,
                    covered_for=rep_email,
                )  # fmt: skip
    for rep_email, lead_id, touched in store.held(connection):  # back: untouched leads return
        if rep_email in away:
            continue
        if touched:
            store.release(connection, lead_id)
        else:
            moved += _move(
                connection, routing, lead_id, rep_email, kind=store.RETURNED, by=ROTATION
            )
    return moved


# -- one change of hands -----------------------------------------------------------------
def _team_next(connection: Connection, routing: Routing, rep_email: str) -> str | None:
    rep = routing.agreement.rep(rep_email)
    if rep is None:
        return None
    return _next(connection, routing, rep.team, exclude=rep_email)


def _next(connection: Connection, routing: Routing, team: str, *, exclude: str) -> str | None:
    """The rep of `team` the rotation gives the next lead (their turn taken)."""
    given = routing.given_today(connection)
    chosen, turns = _pick(
        connection, routing.agreement, routing.now, team, exclude=exclude, given=given
    )
    if chosen is not None:
        store.save_turns(connection, team, turns, at=routing.now)
    return chosen


def _pick(
    connection: Connection,
    agreement: Agreement,
    now: datetime,
    team: str,
    *,
    exclude: str,
    given: Counter[str],
) -> tuple[str | None, dict[str, int]]:
    """(the rep of `team` the rotation would give the next lead, the turns once it is given);
    nothing stored."""
    pool = agreement.pool(team)
    window = Duration.parse(agreement.sales.first_touch)
    skipped = {}
    for each in pool:
        calendar = agreement.rep_calendar(each.email)
        reason = OWNER if each.email == exclude else None
        reason = reason or why_skipped(each, calendar, now, window, given[each.email])
        if reason:
            skipped[each.email] = reason
    chosen, after = next_in_rotation(pool, store.turns(connection, team), skipped)
    if chosen is None:
        log.info("routing: nobody in team %s can take a lead now (%s)", team, skipped)
    return chosen, after


def _move(
    connection: Connection,
    routing: Routing,
    lead_id: int,
    to: str,
    *,
    kind: str,
    by: str,
    covered_for: str | None = None,
) -> list[store.HandOver]:
    """Give the lead to `to`, tell them once, and queue the CRM's owner change."""
    now = routing.now
    moved = store.change_owner(
        connection, lead_id=lead_id, to=to, at=now, kind=kind, by=by, covered_for=covered_for
    )
    if moved is None:
        return []
    if kind in store.GIVEN and routing.given is not None:
        routing.given[to] += 1  # the next pick of this pass counts it against a cap
    lead = lead_row(connection, lead_id)
    assert lead is not None
    agreement = routing.agreement
    calendar = agreement.rep_calendar(to)
    due = Duration.parse(agreement.sales.first_touch).after(calendar, now)
    payload = render_handoff(
        routing.renderer, lead=lead, kind=kind, by=by, was=moved.from_owner,
        covered_for=covered_for, due=due.astimezone(calendar.tz),
    )  # fmt: skip
    outbox.enqueue(
        connection,
        key=f"handoff:{moved.event_id}",
        kind=Kind.HANDOFF,
        audience=to,
        day=calendar.today(now),
        payload=payload,
        now=now,
    )
    if moved.source_system in routing.crms:
        write = WriteBack(moved.source_system, moved.external_id, "owner", now, to)
        outbox.enqueue(
            connection,
            key=f"crm:owner:{moved.event_id}",
            kind=Kind.CRM,
            audience=moved.source_system,
            day=now.date(),
            payload=write.payload(),
            now=now,
        )
    return [moved]
