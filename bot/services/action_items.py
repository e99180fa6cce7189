"""The stand-up's action items: added from the digest by anyone on the team, shown in every
digest until their owner marks them done (the digest's thread hears of each new one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.engine import Engine

from bot.reports.digest import digest_key
from bot.slack.render import Renderer
from storage import action_items as store
from storage import outbox

LONGEST = 300  # characters of an item's text


class ItemRefused(ValueError):
    """An item that cannot be added: why, in a sentence for the modal."""


@dataclass(frozen=True)
class Done:
    """What a Done press did: done, not_owner, already, gone."""

    outcome: str
    item: store.ActionItem | None = None


def add_item(
    engine: Engine,
    renderer: Renderer,
    *,
    team: str,
    day: date,
    text: str,
    owner: str,
    due: date,
    by: str,
    today: date,
    now: datetime,
) -> tuple[int, list[int]]:
    """Store the item; its news goes in the thread of the digest it was added from (`day`'s,
    if it was sent). Returns its id and the outbox items queued."""
    text = " ".join(text.split())
    if not text:
        raise ItemRefused("Say what is to be done.")
    if len(text) > LONGEST:
        raise ItemRefused(f"Keep it under {LONGEST} characters.")
    if due < today:
        raise ItemRefused("The due date has passed: pick today or later.")
    with engine.begin() as connection:
        item_id = store.add(connection, team=team, text=text, owner=owner, due=due, by=by, at=now)
        digest = outbox.item_by_key(connection, digest_key(team, day))
        queued = []
        if digest is not None:
            news = renderer.slack_text(
                "digest/action_added.txt.j2", text=text, owner=owner, due=due, by=by
            )
            found = outbox.enqueue(
                connection,
                key=f"action:{item_id}",
                kind=outbox.Kind.REPLY,
                audience="",
                day=now.date(),
                payload={"text": news},
                now=now,
                update_of=digest.id,
            )
            queued = [found] if found is not None else []
    return item_id, queued


def mark_done(engine: Engine, item_id: int, *, user: str, now: datetime) -> Done:
    """Only the item's owner marks it done."""
    with engine.begin() as connection:
        found = store.get(connection, item_id)
        if found is None:
            return Done("gone")
        item, done_at = found
        if user != item.owner:
            return Done("not_owner", item)
        if done_at is not None or not store.mark_done(connection, item_id, by=user, at=now):
            return Done("already", item)
    return Done("done", item)
