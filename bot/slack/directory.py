"""The workspace's people (`users.list`, paged), kept so that CRM owners given by name
(`Melissa Conroy`) are found by their Slack profile's real name, and so that messages reach
people by one list walk rather than a Tier 3 `users.lookupByEmail` each."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.engine import Engine

from storage import people

log = logging.getLogger(__name__)
FRESH_FOR = timedelta(days=1)
# someone not in the kept list walks it again, but not more often than this (users.list is
# Tier 2: 20+ calls a minute, 200 people a call)
LOOK_AGAIN_AFTER = timedelta(minutes=10)


def refresh_profiles(
    engine: Engine,
    client: WebClient,
    *,
    now: datetime | None = None,
    force: bool = False,
    fresh_for: timedelta = FRESH_FOR,
) -> int | None:
    """Fetch every active person with an email (200 a page) unless the kept list is younger
    than `fresh_for`. Returns how many were kept, or None when the kept list was fresh enough."""
    now = now or datetime.now(UTC)
    with engine.connect() as connection:
        fetched = people.fetched_at(connection)
    if not force and fetched is not None and now - _utc(fetched) < fresh_for:
        return None
    found: list[tuple[str, str, str]] = []
    for page in client.users_list(limit=200):
        for member in page.get("members", []):
            profile = member.get("profile") or {}
            email = profile.get("email")
            if member.get("deleted") or member.get("is_bot") or not email:
                continue
            name = profile.get("real_name") or member.get("real_name") or ""
            found.append((member["id"], email, name))
    with engine.begin() as connection:
        return people.replace_profiles(connection, found, at=now)


def user_ids(engine: Engine, client: WebClient, emails: Collection[str]) -> dict[str, str]:
    """Lower-case email → Slack user id of these people, from what is kept; anyone not kept
    costs one `users.list` walk for all of them (none if the list was walked in the last ten
    minutes). Whoever Slack does not list is left out."""
    wanted = {email.lower() for email in emails}
    with engine.connect() as connection:
        found = people.user_ids(connection, wanted)
    if wanted <= found.keys():
        return found
    try:
        walked = refresh_profiles(engine, client, fresh_for=LOOK_AGAIN_AFTER)
    except (SlackApiError, SlackClientError, OSError) as error:
        log.warning("Slack's people list could not be read (%s): looking people up one by one",
                    error)  # fmt: skip
        return found
    if walked is None:
        return found
    with engine.connect() as connection:
        return people.user_ids(connection, wanted)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


__all__ = ["SlackApiError", "refresh_profiles", "user_ids"]
