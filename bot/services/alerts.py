"""SLA breach alerts: keep every lead's clocks current, find what became due, queue one
message per audience, and let the outbox deliver it.

A rep hears about their own leads (due soon, breached), the rep's manager about breaches
that stayed open (`escalate_manager_after`), the team's channel last. Each (lead, rule,
level) is told once: a clock remembers the level it has been told (`alerted`) in the same
transaction that queues the message. Nobody is told outside their working hours: a level
reached at night waits for the recipient's next opening.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from bot.domain.agreement import Agreement
from bot.domain.business_time import is_open
from bot.domain.calendar import BusinessCalendar
from bot.domain.sla_rules import Level
from bot.gc_pause import gc_paused
from bot.reports.queue import Queue
from bot.services.clocks import refresh, refresh_clocks
from bot.services.routing import Routing, manager_routes, route
from bot.slack.messages.queue import Message, Page, page_of, render_queue
from bot.slack.render import InvalidBlocks, Renderer
from storage import alerts as store
from storage import outbox
from storage.agreements import agreement_in_force
from storage.outbox import Kind

log = logging.getLogger(__name__)
LOWEST_LEVEL: dict[str, Level] = {  # each audience hears of a lead from this level up
    Kind.REP: Level.DUE_SOON,
    Kind.MANAGER: Level.MANAGER,
    Kind.CHANNEL: Level.CHANNEL,
}


# -- the scan ------------------------------------------------------------------------------
@dataclass
class ScanResult:
    agreement: Agreement | None
    refreshed: int = 0
    due: int = 0
    waiting_for_hours: int = 0
    snoozed: int = 0
    routed: int = 0  # leads that changed hands (reassigned, covered, returned)
    messages: list[Message] = field(default_factory=list)


class ScanStopped(Exception):
    """The scan was asked to stop between two batches: nothing was queued."""


def scan(
    engine: Engine,
    renderer: Renderer,
    *,
    now: datetime,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    stopping: threading.Event | None = None,
    crms: tuple[str, ...] = (),
) -> ScanResult:
    """Route what the agreement's routing moves, evaluate every open lead as of `now` and
    queue what is newly due (nothing is moved, queued or remembered with `dry_run`; the
    clocks it computed are kept, so the next scan does not compute them again). `crms`: the
    CRMs a lead's new owner is written to. Clocks are computed in batches of their own
    transactions; the routing and the telling are one transaction over the due clocks.
    Delivery is the Sender's job."""
    now = now.astimezone(UTC)  # SQLite compares stored UTC text: bind UTC only
    agreement = agreement_in_force(engine, on=now.date())
    if agreement is None:
        return ScanResult(None)
    refreshed = refresh(engine, now=now, progress=progress, stopping=stopping)
    if stopping is not None and stopping.is_set():
        raise ScanStopped(f"stopped after computing {refreshed:,} leads' clocks")
    with engine.connect() as connection, gc_paused():
        transaction = connection.begin()
        try:
            routing = Routing(agreement, renderer, crms, now)
            result = _scan(connection, routing, queue=not dry_run)
        except BaseException:
            transaction.rollback()
            raise
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    result.refreshed += refreshed
    return result


def _scan(connection: Connection, routing: Routing, *, queue: bool) -> ScanResult:
    agreement, renderer, now = routing.agreement, routing.renderer, routing.now
    store.serialize_scans(connection)
    store.plan_for_memory(connection)
    handed = route(connection, routing) if queue else []
    # what became stale since the batches (a webhook a moment ago) is computed here, in this
    # transaction, so nothing due is left out of the telling
    result = ScanResult(
        agreement, refreshed=refresh_clocks(connection, now=now), routed=len(handed)
    )
    due = store.due_clocks(connection, now=now)
    result.due = len(due)
    news: dict[tuple[str, str], set[int]] = defaultdict(set)  # (kind, audience) → lead ids
    told_of: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)  # … (clock, level)
    changes: list[tuple[int, int, datetime | None]] = []
    # clocks alike (one owner, told as far, at the same level) are told alike: worked out
    # once for each such group, not for each of twenty thousand clocks
    alike: dict[tuple[str | None, int, int], list[store.ClockRow]] = defaultdict(list)
    for clock in due:
        snoozed = clock.lead.snoozed_until
        if snoozed is not None and snoozed > now:
            result.snoozed += 1
            changes.append((clock.id, clock.alerted, snoozed))
        else:
            alike[(clock.lead.owner_email, clock.alerted, clock.level)].append(clock)
    people = _People(agreement, now)
    for (owner, alerted, level), clocks in alike.items():
        told, steps = people.telling(owner, alerted, level)
        ids = [clock.id for clock in clocks]
        leads = [clock.lead.id for clock in clocks] if steps else []
        for kind, audience, step in steps:
            news[(kind, audience)].update(leads)
            told_of[(kind, audience)].extend(zip(ids, repeat(step)))
        if told < level:
            result.waiting_for_hours += len(clocks)
        if told != alerted:
            changes.extend(zip(ids, repeat(told), repeat(None)))
    result.messages = _messages(connection, agreement, renderer, news, told_of, due, now=now)
    if queue:
        store.mark_alerted(connection, changes)
        for message in result.messages:
            _enqueue(connection, message, renderer=renderer)
    return result


Step = tuple[str, str, int]  # (kind, audience, level) handed to that audience


class _People:
    """Who a scan tells about an owner's lead, and in which calendar, looked up once per
    person (a busy scan tells the same forty reps about twenty thousand leads)."""

    def __init__(self, agreement: Agreement, now: datetime) -> None:
        self.agreement, self.now = agreement, now
        self._found: dict[tuple[str, str], tuple[str, bool] | None] = {}

    def telling(self, owner: str | None, told: int, level: int) -> tuple[int, list[Step]]:
        """The level told once each newly reached level has gone to its audience, in order,
        while that audience is in working hours; and each hand-over."""
        if not owner:
            return level, []  # nobody owns it: nobody to tell (its clocks still count)
        steps: list[Step] = []
        while told < level:
            step = told + 1
            if step <= Level.BREACHED:
                kind = Kind.REP
                step = min(level, Level.BREACHED)
            else:
                kind = Kind.MANAGER if step == Level.MANAGER else Kind.CHANNEL
            found = self.audience(kind, owner)
            if found is None:
                told = step  # nobody to escalate to
                continue
            audience, working = found
            if not working:
                break  # told at the audience's next opening
            steps.append((kind, audience, step))
            told = step
        return told, steps

    def audience(self, kind: str, owner: str) -> tuple[str, bool] | None:
        """The audience of `kind` for the owner's leads and whether it is in working hours
        now, in its own calendar (None: nobody)."""
        key = (kind, owner)
        if key not in self._found:
            found = self._look_up(kind, owner)
            self._found[key] = found and (found[0], is_open(found[1], self.now))
        return self._found[key]

    def _look_up(self, kind: str, owner: str) -> tuple[str, BusinessCalendar] | None:
        agreement = self.agreement
        if kind == Kind.REP:
            return owner, agreement.rep_calendar(owner)
        rep = agreement.rep(owner)
        if kind == Kind.MANAGER:
            if rep is None or rep.manager is None:
                return None
            return rep.manager, agreement.person_calendar(rep.manager)
        team = agreement.team(rep.team) if rep else None
        if team is None:
            return None
        return team.channel, agreement.team_calendar(team.name)


def audience_owners(agreement: Agreement, kind: str, audience: str) -> list[str]:
    if kind == Kind.REP:
        return [audience]
    if kind == Kind.MANAGER:
        return [rep.email for rep in agreement.reps if rep.manager == audience]
    teams = {team.name for team in agreement.teams if team.channel == audience}
    return [rep.email for rep in agreement.reps if rep.team in teams]


def reader_calendar(agreement: Agreement, kind: str, audience: str) -> BusinessCalendar:
    if kind == Kind.CHANNEL:
        team = next((team for team in agreement.teams if team.channel == audience), None)
        return agreement.team_calendar(team.name if team else None)
    return agreement.person_calendar(audience)


def _messages(
    connection: Connection,
    agreement: Agreement,
    renderer: Renderer,
    news: dict[tuple[str, str], set[int]],
    told_of: dict[tuple[str, str], list[tuple[int, int]]],
    due: list[store.ClockRow],
    *,
    now: datetime,
) -> list[Message]:
    """One message per audience with news: its whole current queue, the news marked. The
    due clocks the scan already holds are not read again."""
    owners = {
        target: audience_owners(agreement, *target) for target in news
    }  # (kind, audience) → owners whose leads it shows
    every_owner = {owner for found in owners.values() for owner in found}
    by_owner: dict[str, list[store.ClockRow]] = defaultdict(list)
    for clock in due:
        if clock.lead.owner_email in every_owner:
            by_owner[clock.lead.owner_email].append(clock)
    for clock in store.held_clocks(connection, owners=every_owner, now=now):
        by_owner[clock.lead.owner_email or ""].append(clock)
    pages = []
    for (kind, audience), new in sorted(news.items()):
        clocks = [clock for owner in owners[(kind, audience)] for clock in by_owner.get(owner, [])]
        queue = _queue(agreement, kind, audience, clocks, now=now, new=new)
        pages.append((kind, audience, new, queue, page_of(queue, kind=kind)))
    # what a line says of its lead, read for the leads the messages show (not every one due)
    store.fill_details(connection, (line.lead for *_, page in pages for line in page.lines))
    messages = []
    for kind, audience, new, queue, page in pages:
        try:
            message = render_queue(
                renderer,
                kind=kind,
                audience=audience,
                queue=queue,
                page=page,
                now=now,
                routes=_routes(connection, agreement, kind, page, now=now),
            )
        except InvalidBlocks as error:  # one audience's message, never everyone's
            log.error(
                "SLA %s message to %s skipped, leads %s: %s",
                kind,
                audience,
                sorted(new),
                error,
            )
            continue
        told = str(sorted(told_of[(kind, audience)])).encode()  # the same news, the same key
        message.key = f"{kind}:{audience}:{hashlib.sha1(told).hexdigest()[:16]}"
        messages.append(message)
    return messages


def _queue(
    agreement: Agreement,
    kind: str,
    audience: str,
    clocks: list[store.ClockRow],
    *,
    now: datetime,
    new: Set[int] = frozenset(),
    min_level: int | None = None,
    by_value: bool = False,
) -> Queue:
    """An audience's queue, from `min_level` (else the lowest level it hears of); a channel
    hears only its news, and how much else is open."""
    floor = LOWEST_LEVEL[kind] if min_level is None else min_level
    return Queue(
        agreement,
        [clock for clock in clocks if clock.level >= floor],
        reader_calendar=reader_calendar(agreement, kind, audience),
        now=now,
        new=new,
        by_value=by_value,
        only_new=kind == Kind.CHANNEL and bool(new),
    )


def _routes(
    connection: Connection, agreement: Agreement, kind: str, page: Page, *, now: datetime
) -> dict[str, tuple[list[str], str | None]] | None:
    """A manager's Reassign to…: the teammates of each owner the page shows."""
    if kind != Kind.MANAGER or not page.lines:
        return None
    owners = sorted({line.lead.owner_email for line in page.lines if line.lead.owner_email})
    return manager_routes(connection, agreement, owners, now=now)


def audience_message(
    connection: Connection,
    agreement: Agreement,
    renderer: Renderer,
    *,
    kind: str,
    audience: str,
    now: datetime,
    min_level: int | None = None,
    note: str | None = None,
    title: str | None = None,
    surface: str = "dm",
    page: int = 0,
    by_value: bool = False,
) -> Message:
    """An audience's queue as of `now`: what a scan shows them, or (min_level=0) every open
    lead with its deadline, as `/sla` and the Home tab show it (a page at a time; `by_value`:
    the most expected pipeline first)."""
    owners = audience_owners(agreement, kind, audience)
    clocks = store.queue_clocks(
        connection,
        owners=owners,
        now=now,
        min_level=LOWEST_LEVEL[kind] if min_level is None else min_level,
    )
    queue = _queue(
        agreement, kind, audience, clocks, now=now, min_level=min_level, by_value=by_value
    )
    shown = page_of(queue, kind=kind, surface=surface, page=page)
    return render_queue(
        renderer,
        kind=kind,
        audience=audience,
        queue=queue,
        page=shown,
        now=now,
        note=note,
        title=title,
        surface=surface,
        routes=_routes(connection, agreement, kind, shown, now=now),
    )


def _enqueue(connection: Connection, message: Message, *, renderer: Renderer) -> None:
    """Queue the message; the same audience's earlier list of the day is replaced if it was not
    sent yet (nobody receives a stale list), else folded away once this one is out. The outbox
    keeps real time (a scan `--at` another time still delivers now)."""
    now = datetime.now(UTC)
    earlier = outbox.latest_of_day(
        connection, kind=message.kind, audience=message.audience, day=message.day
    )
    # a DM holds the whole queue: the newer one says all the unsent one said (a channel's
    # message lists only its news, so an unsent one is kept)
    if (
        earlier is not None
        and message.kind in outbox.DM_KINDS
        and outbox.supersede_unsent(connection, earlier.id)
    ):
        earlier = None
    queued = outbox.enqueue(
        connection,
        key=message.key,
        kind=message.kind,
        audience=message.audience,
        day=message.day,
        payload=message.payload,
        now=now,
    )
    if queued is not None and earlier is not None:
        folded = {
            "text": renderer.slack_text("alerts/superseded.txt.j2", count=message.total),
            "blocks": renderer.blocks("alerts/superseded.json.j2", count=message.total),
        }
        outbox.enqueue(
            connection,
            key=f"{earlier.key}:superseded",
            kind=Kind.FOLD,
            audience=message.audience,
            day=message.day,
            payload=folded,
            now=now,
            update_of=earlier.id,
        )
