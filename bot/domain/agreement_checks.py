"""What in an agreement cannot work in a real workspace, seen from the terms alone: the
starter's placeholders left in, and channels written by name where Slack needs an id."""

from __future__ import annotations

import re

from bot.domain.agreement import CHANNEL_ID, Agreement
from bot.domain.checkup import Check

STARTER_CHANNEL = "C0STANDUP"  # `slabot init`'s team channel
# RFC 2606 reserves these: no real mailbox, so no Slack user, is ever at one
RESERVED_DOMAINS = ("example.com", "example.org", "example.net")
CHANNEL_NAME = re.compile(r"^#?([a-z0-9][a-z0-9._\-]{0,79})$")


def placeholders(agreement: Agreement) -> list[Check]:
    """One finding per starter value still in the agreement (it is stored all the same)."""
    found = [
        Check("agreement", False, "starter_channel", {"team": team.name, "channel": team.channel})
        for team in agreement.teams
        if team.channel == STARTER_CHANNEL
    ]
    people = sorted(
        {rep.email for rep in agreement.reps}
        | {rep.manager for rep in agreement.reps if rep.manager}
    )
    reserved = [email for email in people if email.rsplit("@", 1)[-1] in RESERVED_DOMAINS]
    if reserved:
        found.append(Check("agreement", False, "placeholder_people", {"emails": reserved}))
    return found


def target_checks(agreement: Agreement) -> list[Check]:
    """A typed target the quota and funnel disagree with (it is kept: the typed one paces)."""
    return [
        Check("agreement", False, "target_disagrees", {"what": what, "typed": typed,
                                                       "derived": derived})
        for what, typed, derived in agreement.targets().disagreements()
    ]  # fmt: skip


def channel_name(channel: str) -> str | None:
    """The name a channel was written by (`#sales-standup`, or a bare name), None for an id."""
    if CHANNEL_ID.match(channel):
        return None
    match = CHANNEL_NAME.match(channel.strip())
    return match.group(1) if match else channel
