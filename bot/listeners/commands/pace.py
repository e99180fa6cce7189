"""`/pace [team]`: the digest's pacing figures, on demand, only to the person who asked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack

from bot.services.agreements import agreement_in_force
from bot.services.digest import DigestError, compute_digest, render_digest

if TYPE_CHECKING:
    from bot.app import Deps


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
    if words:
        name = words[0]
    else:
        here = next((team for team in agreement.teams if team.channel == channel_id), None)
        name = here.name if here else None
    try:
        digest = compute_digest(deps.engine, team=name, now=now, fresh=False)
    except DigestError as error:
        return {
            "text": renderer.slack_text("digest/pace_help.txt.j2", teams=teams, error=str(error))
        }
    return render_digest(renderer, digest, heading="Pace")


def handle_pace(ack: Ack, command: dict, deps: Deps) -> None:
    text = command.get("text") or ""
    ack(
        response_type="ephemeral",
        **pace_message(deps, text, channel_id=command.get("channel_id", "")),
    )
