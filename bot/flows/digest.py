"""The stand-up digest's flow: compute a team's figures, queue them once per team and day
(with the burn-up chart in the thread), deliver."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from bot.flows.delivery import sender
from bot.services.digest import Digest, compute_digest
from bot.settings import Settings
from bot.slack.delivery import DeliveryReport, resolve_user
from bot.slack.messages.digest import chart_payload, render_digest
from bot.slack.render import Renderer
from storage import outbox
from storage.agreements import agreement_in_force
from storage.outbox import Kind


@dataclass(frozen=True)
class Queued:
    digest: Digest
    item_id: int | None  # None: this team's digest for this day was already queued
    earlier: outbox.Item | None = None
    chart_id: int | None = None  # its burn-up chart, threaded under it

    @property
    def item_ids(self) -> list[int]:
        return [each for each in (self.item_id, self.chart_id) if each is not None]


def with_mentions(engine: Engine, client: WebClient, digest: Digest) -> Digest:
    """Name reps with breached leads by their Slack ids (looked up by email once, kept), so
    the channel shows who they are; an email Slack does not know stays as it is."""
    breaches = []
    for breach in digest.breaches:
        user_id = breach.user_id
        if user_id is None:
            try:
                user_id = resolve_user(engine, client, breach.email)
            except SlackApiError:
                user_id = None
        breaches.append(replace(breach, user_id=user_id))
    return replace(digest, breaches=breaches)


def queue_digest(
    engine: Engine,
    renderer: Renderer,
    digest: Digest,
    *,
    force: bool = False,
    client: WebClient | None = None,
) -> Queued:
    """Queue the digest (and its chart, threaded under it) once per team and day. With
    `force`, a second one goes out under its own key. With a `client`, reps are mentioned."""
    now = datetime.now(UTC)
    if client is not None:
        digest = with_mentions(engine, client, digest)
    key = digest.key
    with engine.begin() as connection:
        earlier = outbox.item_by_key(connection, key)
        if earlier is not None and force:
            key = f"{key}:again:{now.strftime('%Y%m%dT%H%M%S%f')}"
        elif earlier is not None:
            return Queued(digest, None, earlier)
        item_id = outbox.enqueue(
            connection,
            key=key,
            kind=Kind.DIGEST,
            audience=digest.team.channel,
            day=digest.day,
            payload=render_digest(renderer, digest),
            now=now,
        )
        chart = chart_payload(digest) if item_id is not None else None
        chart_id = None
        if chart is not None:
            chart_id = outbox.enqueue(
                connection,
                key=f"{key}:chart",
                kind=Kind.CHART,
                audience=digest.team.channel,
                day=digest.day,
                payload=chart,
                now=now,
                update_of=item_id,
            )
    if item_id is None:  # a second clock queued it between our look and our insert
        with engine.connect() as connection:
            return Queued(digest, None, outbox.item_by_key(connection, key))
    return Queued(digest, item_id, earlier, chart_id)


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
