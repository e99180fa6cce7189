"""The app's membership of the teams' channels. Posting works without it (`chat:write.public`),
but looking for an earlier attempt before a resend (`conversations.history`) does not: slabot
joins public channels itself (`channels:join`); a private one must invite the app."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelState:
    channel: str
    name: str
    member: bool
    problem: str | None = None  # what a person must do, if anything

    @property
    def line(self) -> str:
        where = f"#{self.name} ({self.channel})" if self.name else self.channel
        if self.problem:
            return f"{where}: {self.problem}"
        return f"{where}: the app is a member"


def join_channel(client: WebClient, channel: str) -> ChannelState:
    """Make the app a member of a public channel; say what to do when it cannot."""
    try:
        info = client.conversations_info(channel=channel)["channel"]
    except SlackApiError as error:
        code = error.response.get("error", "")
        if code == "channel_not_found":
            return ChannelState(
                channel,
                "",
                False,
                "slabot cannot see this channel: if it is private, invite the app "
                "(`/invite @slabot` in the channel)",
            )
        return ChannelState(channel, "", False, f"Slack answered {code or error}")
    except (SlackClientError, OSError) as error:  # urllib's URLError is an OSError
        return ChannelState(channel, "", False, f"Slack could not be reached ({error})")
    name = str(info.get("name") or "")
    if info.get("is_member"):
        return ChannelState(channel, name, True)
    if info.get("is_private"):
        return ChannelState(
            channel, name, False, "private: invite the app (`/invite @slabot` in the channel)"
        )
    try:
        client.conversations_join(channel=channel)
    except SlackApiError as error:
        code = error.response.get("error", "")
        hint = " (add the `channels:join` scope)" if code == "missing_scope" else ""
        return ChannelState(channel, name, False, f"cannot join: {code}{hint}")
    except (SlackClientError, OSError) as error:
        return ChannelState(channel, name, False, f"Slack could not be reached ({error})")
    log.info("joined #%s (%s)", name, channel)
    return ChannelState(channel, name, True)


def join_team_channels(client: WebClient, channels: list[str]) -> list[ChannelState]:
    """Join each channel once; log what a person must fix."""
    states = [join_channel(client, channel) for channel in dict.fromkeys(channels)]
    for state in states:
        if state.problem:
            log.warning("channel %s", state.line)
    return states


def channel_ids(client: WebClient, names: set[str]) -> dict[str, str]:
    """name → id of the channels called `names` that the app can see (`conversations.list`,
    public and private, a page of 1,000 at a time, until every name is found)."""
    found: dict[str, str] = {}
    cursor = None
    while True:
        page = client.conversations_list(
            types="public_channel,private_channel",
            exclude_archived=True,
            limit=1000,
            cursor=cursor,
        )
        channels: list[dict] = page.get("channels", [])
        for channel in channels:
            if channel.get("name") in names:
                found[str(channel["name"])] = str(channel["id"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor or set(found) >= names:
            return found
