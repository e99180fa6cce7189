"""A team's digest queued once per team and day, with its burn-up chart threaded under it,
and the reps with breached leads named by their Slack ids."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.reports.digest import Digest
from bot.slack.directory import user_ids
from bot.slack.messages.digest import chart_payload, checkin_thread, render_digest
from bot.slack.render import Renderer
from storage import outbox
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
    """Name reps with breached leads by their Slack ids, so the channel shows who they are:
    those not kept yet cost one `users.list` walk together, never a look-up each (the digest
    is not held behind Slack's Tier 3 limit); an email Slack does not list stays as it is."""
    missing = [breach.email for breach in digest.breaches if breach.user_id is None]
    if not missing:
        return digest
    found = user_ids(engine, client, missing)
    breaches = [
        replace(breach, user_id=breach.user_id or found.get(breach.email.lower()))
        for breach in digest.breaches
    ]
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

        def in_thread(suffix: str, kind: str, payload: dict | None) -> int | None:
            if item_id is None or payload is None:
                return None
            return outbox.enqueue(connection, key=f"{key}:{suffix}", kind=kind,
                                  audience=digest.team.channel, day=digest.day,
                                  payload=payload, now=now, update_of=item_id)  # fmt: skip

        in_thread("checkin", Kind.REPLY, checkin_thread(digest))  # the check-in's answers
        chart_id = in_thread("chart", Kind.CHART, chart_payload(digest))  # the burn-up
    if item_id is None:  # a second clock queued it between our look and our insert
        with engine.connect() as connection:
            return Queued(digest, None, outbox.item_by_key(connection, key))
    return Queued(digest, item_id, earlier, chart_id)
