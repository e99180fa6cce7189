"""The workspace's people as Slack lists them (`users.list`): real names find CRM owners."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, delete, func, select

from storage.models import PROFILES


def real_names(connection: Connection) -> dict[str, str]:
    """real name → email of every profile kept."""
    rows = connection.execute(select(PROFILES.c.real_name, PROFILES.c.email))
    return {name: email for name, email in rows if name and email}


def fetched_at(connection: Connection) -> datetime | None:
    return connection.execute(select(func.max(PROFILES.c.fetched_at))).scalar()


def replace_profiles(
    connection: Connection, profiles: Iterable[tuple[str, str, str]], *, at: datetime
) -> int:
    """Keep exactly these (user id, email, real name) profiles."""
    rows = [
        {"user_id": user_id, "email": email.lower(), "real_name": name, "fetched_at": at}
        for user_id, email, name in profiles
    ]
    connection.execute(delete(PROFILES))
    if rows:
        connection.execute(PROFILES.insert(), rows)
    return len(rows)
