"""The workspace's people (`users.list`, paged), kept so that CRM owners given by name
(`Melissa Conroy`) are found by their Slack profile's real name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from storage import people

FRESH_FOR = timedelta(days=1)


def refresh_profiles(
    engine: Engine, client: WebClient, *, now: datetime | None = None, force: bool = False
) -> int | None:
    """Fetch every active person with an email (200 a page) unless the kept list is under a
    day old. Returns how many were kept, or None when the kept list was fresh enough."""
    now = now or datetime.now(UTC)
    with engine.connect() as connection:
        fetched = people.fetched_at(connection)
    if not force and fetched is not None and now - _utc(fetched) < FRESH_FOR:
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


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


__all__ = ["SlackApiError", "refresh_profiles"]
