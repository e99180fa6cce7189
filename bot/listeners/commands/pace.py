"""`/pace [team]`: the digest's pacing figures, on demand, only to the person who asked."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.deps import Deps, deps_of
from bot.listeners.answering import answer_command
from bot.reports.digest import Digest
from bot.services.digest import DigestError, compute_digest
from bot.slack.messages.digest import render_digest
from storage.agreements import agreement_in_force


def pace_message(deps: Deps, text: str, *, channel_id: str = "") -> dict[str, Any]:
    """As of this morning, for the named team, the team whose channel this is, or the first."""
    renderer = deps.renderer
    words = text.split()
    now = datetime.now(UTC)
    agreement = agreement_in_force(deps.engine, on=now.date())
    if agreement is None:
        return {"text": renderer.slack_text("sla/none.txt.j2")}
    teams = [team.name for team in agreement.teams]
    if len(words) > 1 or (words and words[0].lower() == "help"):
        return {
            "text": renderer.slack_text("digest/pace_help.txt.j2", teams=teams, typed=text.strip())
        }
    name: str | None
    if words:
        name = words[0]
    else:
        here = next((team for team in agreement.teams if team.channel == channel_id), None)
        name = here.name if here else None
    try:
        digest = _this_minutes_digest(deps, name, now)
    except DigestError as error:
        return {
            "text": renderer.slack_text("digest/pace_help.txt.j2", teams=teams, error=str(error))
        }
    return render_digest(renderer, digest, heading="Pace")


_recent: dict[tuple[str, str | None, int], Digest] = {}  # (database, team, minute) → digest
_recent_lock = threading.Lock()


def _this_minutes_digest(deps: Deps, team: str | None, now: datetime) -> Digest:
    """The figures are as of this morning and the breaches move at the clock's pace (a scan a
    minute): within a minute, everyone who asks in this process gets the same answer."""
    key = (str(deps.engine.url), team, int(now.timestamp() // 60))
    with _recent_lock:
        found = _recent.get(key)
    if found is None:
        found = compute_digest(deps.engine, team=team, now=now, fresh=False)
        with _recent_lock:
            for old in [each for each in _recent if each[2] != key[2]]:
                del _recent[old]
            _recent[key] = found
    return found


def handle_pace(ack: Ack, command: dict, respond: Respond, context: BoltContext) -> None:
    deps = deps_of(context)
    text, channel = command.get("text") or "", command.get("channel_id", "")
    answer_command(ack, respond, deps, lambda: pace_message(deps, text, channel_id=channel))
