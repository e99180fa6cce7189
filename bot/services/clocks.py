"""Every lead's SLA clocks kept current: computed with the domain's rules in the owner's
calendar, a batch per transaction, for the leads marked stale (new, changed, touched, new
terms)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Connection
from sqlalchemy.engine import Engine

from bot.domain.sla_rules import LeadFacts, Level, evaluate
from storage import alerts as store
from storage.agreements import versions

BATCH = 2000  # leads whose clocks are computed in one transaction


def refresh_clocks(
    connection: Connection,
    *,
    now: datetime,
    limit: int | None = None,
    among: ColumnElement[bool] | None = None,
) -> int:
    """Compute the clocks of leads marked stale (new, changed, touched, new terms): all of
    them (or those `among` selects: `store.owned_by`, `store.the_lead`), or one batch of
    about `limit`. Each lead is judged by the agreement version in force at its hand-off, in
    its owner's calendar of that version with the newest version's out-of-office days: its
    clocks are the same whichever command computes them, on whichever date.

    A clock seen for the first time has told what it reached before slabot watched its owner
    (`Versions.history_until`: since the owner was first in an applied agreement, or the
    agreement's `watch_from`) and, for a backfill (`slabot import --history`), what it had
    reached when imported: that is history, shown in the queues and counted, never paged (a
    breach from before is history with its escalations: nobody is escalated to about what
    the rep was never told).
    What it reached after is news, however late slabot sees it (a webhook outage, a weekly
    export): each level is told once, folded into one message per audience."""
    terms = None  # read once there is a stale lead: a minute's scan mostly finds none
    done = 0
    while leads := store.stale_leads(connection, limit=BATCH, among=among):
        if terms is None and (terms := versions(connection)) is None:
            return 0  # no agreement yet: no terms to judge by
        ids = [lead.id for lead in leads]
        told = store.alerted_levels(connection, ids)
        touches = store.touch_times(connection, ids)
        rows = []
        for lead in leads:
            if lead.assigned_at is None:
                continue  # not handed off yet: no clock runs
            facts = LeadFacts(
                assigned_at=lead.assigned_at,
                first_touch_at=lead.first_touch_at,
                accepted_at=lead.accepted_at,
                qualified_at=lead.qualified_at,
                ended_at=lead.ended_at,
                touches=tuple(touches.get(lead.id, ())),
            )
            agreement = terms.at(lead.assigned_at)
            calendar = terms.rep_calendar(lead.owner_email, lead.assigned_at)
            for clock in evaluate(facts, agreement.sales, calendar):
                alerted = told.get((lead.id, clock.rule))
                if alerted is None:  # first seen: what it reached before slabot watched is told
                    # an unowned lead's clocks count in the response figures; what they
                    # reach before someone owns it is nobody's news
                    history = terms.history_until(lead.owner_email or "", now=now)
                    if lead.history_at is not None:
                        history = max(history, lead.history_at)
                    alerted = int(clock.level(history))
                    if alerted >= Level.BREACHED:  # a breach from before: its escalations too
                        alerted = int(Level.CHANNEL)
                rows.append(
                    {
                        "lead_id": lead.id,
                        "rule": clock.rule,
                        "status": clock.status,
                        "starts_at": clock.starts_at,
                        "warn_at": clock.warn_at,
                        "due_at": clock.due_at,
                        "manager_at": clock.manager_at,
                        "channel_at": clock.channel_at,
                        "met_at": clock.met_at,
                        "took_minutes": clock.took.total_seconds() / 60 if clock.took else None,
                        "alerted": alerted,
                        "next_at": clock.next_change(alerted),
                    }
                )
        store.save_clocks(connection, rows, existing=set(told), lead_ids=ids)
        done += len(leads)
        if limit is not None and done >= limit:
            break
    return done


def refresh(
    engine: Engine,
    *,
    now: datetime,
    among: ColumnElement[bool] | None = None,
    progress: Callable[[int], None] | None = None,
    stopping: threading.Event | None = None,
) -> int:
    """Bring stale clocks up to date (of every lead, or of those `among` selects: `/sla`
    does not wait for the next scan), a batch (BATCH leads) per transaction: a writer never
    waits longer than one batch, and a scan that is stopped or killed keeps what it did (the
    rest stays marked stale). `progress(leads done)` after each batch."""
    now = now.astimezone(UTC)  # SQLite compares stored UTC text: bind UTC only
    done = 0
    while stopping is None or not stopping.is_set():
        with engine.begin() as connection:
            store.serialize_scans(connection)
            batch = refresh_clocks(connection, now=now, limit=BATCH, among=among)
        if not batch:
            break
        done += batch
        if progress is not None:
            progress(done)
    return done


def stale_count(engine: Engine) -> int:
    """Leads whose clocks are still to be computed (what a scan's progress counts up to)."""
    with engine.connect() as connection:
        return store.stale_count(connection)
