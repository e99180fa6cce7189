"""The workspace's people as Slack lists them (`users.list`): real names find CRM owners."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import Connection, delete, func, select

from storage.models import PROFILES, USERS


def real_names(connection: Connection) -> dict[str, str]:
    """real name → email of every profile kept."""
    rows = connection.execute(select(PROFILES.c.real_name, PROFILES.c.email))
    return {name: email for name, email in rows if name and email}


def user_ids(connection: Connection, emails: Collection[str]) -> dict[str, str]:
    """Lower-case email → Slack user id of the people among `emails` slabot knows: its own
    kept answers (the agreement's ids, an earlier look-up) first, then `users.list`'s."""
    wanted = sorted({email.lower() for email in emails})
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):  # within every driver's limit on bound values
        chunk = wanted[start : start + 500]
        listed = select(PROFILES.c.email, PROFILES.c.user_id).where(PROFILES.c.email.in_(chunk))
        found.update({email: user_id for email, user_id in connection.execute(listed)})
        kept = select(func.lower(USERS.c.email), USERS.c.user_id).where(
            func.lower(USERS.c.email).in_(chunk)
        )
        found.update({email: user_id for email, user_id in connection.execute(kept)})
    return found


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
