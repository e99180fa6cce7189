"""The stand-up digest's flow: compute each team's figures, queue them once per team and day
(`bot.services.digest_queue`), deliver them ahead of everything else queued."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy.engine import Engine

from bot.flows.delivery import sender
from bot.services.digest import compute_digest
from bot.services.digest_queue import Queued, queue_digest
from bot.settings import Settings
from bot.slack.delivery import DeliveryReport
from bot.slack.render import Renderer
from storage.agreements import agreement_in_force


def post_digest(
    engine: Engine,
    renderer: Renderer,
    settings: Settings,
    *,
    team: str | None,
    day: date | None = None,
    now: datetime | None = None,
    force: bool = False,
    wait: timedelta = timedelta(0),
) -> Queued:
    """Compute, queue once and deliver a team's digest (`force`: post a second one). Only the
    digest and its chart are sent here, whatever else is queued: alerts never delay it."""
    [queued], _ = post_digests(
        engine, renderer, settings, teams=[team], day=day, now=now, force=force, wait=wait
    )
    return queued


def post_digests(
    engine: Engine,
    renderer: Renderer,
    settings: Settings,
    *,
    teams: Sequence[str | None],
    day: date | None = None,
    now: datetime | None = None,
    force: bool = False,
    wait: timedelta = timedelta(0),
    everything: bool = False,
) -> tuple[list[Queued], DeliveryReport]:
    """Compute and queue each team's digest once (`force`: again), then deliver the digests
    and their charts, or with `everything` all that is queued (`slabot digest`). Raises
    DigestError for a team that cannot have one (the teams before it stay queued)."""
    deliverer = sender(engine, settings)
    queued = [
        queue_digest(
            engine,
            renderer,
            compute_digest(engine, team=team, day=day, now=now),
            force=force,
            client=deliverer.client,
        )
        for team in teams
    ]
    ids = [item for each in queued for item in each.item_ids]
    report = DeliveryReport()
    if everything or ids:
        report = deliverer.deliver(wait_up_to=wait, only=None if everything else ids)
    return queued, report


def scheduled_digest(
    engine: Engine, renderer: Renderer, settings: Settings, *, team: str, now: datetime
) -> str:
    """The clock's job at a team's stand-up time: post today's digest unless today is not a
    business day. Returns what happened, for the log."""
    agreement = agreement_in_force(engine, on=now.date())
    if agreement is None or agreement.team(team) is None:
        return f"team {team} is no longer in the agreement"
    calendar = agreement.team_calendar(team)
    today = calendar.today(now)
    reason = calendar.closed_reason(today)
    if reason is not None:
        return f"no digest for {team} on {today}: {reason}"
    queued = post_digest(
        engine, renderer, settings, team=team, day=today, now=now, wait=timedelta(minutes=1)
    )
    if queued.item_id is None:
        return f"digest for {team} on {today} was already queued"
    return f"digest for {team} on {today} queued"
