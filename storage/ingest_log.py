"""What came in and what could not be mapped: the log of imports and webhook deliveries,
rejected webhook events, and what `slabot status` reports from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, or_, select

from storage.ingest import unmatched_owners
from storage.models import LEADS, REJECTED, RUNS


def by_kind(unmapped: Mapping[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    """(what, value) → rows, as a run keeps it: what → value → rows."""
    kinds: dict[str, dict[str, int]] = {}
    for (what, value), count in unmapped.items():
        kinds.setdefault(what, {})[value] = kinds.get(what, {}).get(value, 0) + count
    return kinds


def record_run(
    connection: Connection,
    *,
    at: datetime,
    channel: str,
    source_system: str,
    name: str,
    counts: dict[str, int],
    unmapped: dict[str, dict[str, int]],
) -> None:
    connection.execute(
        RUNS.insert().values(
            at=at,
            channel=channel,
            source_system=source_system,
            name=name,
            counts=counts,
            unmapped=unmapped,
        )
    )


def reject_events(
    connection: Connection,
    rejected: Sequence[tuple[object, str]],
    *,
    source_system: str,
    at: datetime,
) -> None:
    if rejected:
        connection.execute(
            REJECTED.insert(),
            [
                {
                    "received_at": at,
                    "source_system": source_system,
                    "reason": reason,
                    "event": event,
                }
                for event, reason in rejected
            ],
        )


@dataclass
class LoadStatus:
    """What is loaded, for `slabot status`."""

    leads: dict[str, int] = field(default_factory=dict)  # per source system
    unowned: dict[str, int] = field(default_factory=dict)
    undated: dict[str, int] = field(default_factory=dict)  # no hand-off time: no clock starts
    unmatched_owners: list[tuple[str, str, int]] = field(default_factory=list)  # crm, owner, leads
    rejected_events: list[tuple[datetime, str, str]] = field(default_factory=list)
    rejected_total: int = 0
    last: dict[str, datetime] = field(default_factory=dict)  # "import" / "webhook" → when


def load_status(connection: Connection, *, now: datetime, shown: int = 10) -> LoadStatus:
    status = LoadStatus()
    no_handoff = and_(
        LEADS.c.mql_at.is_(None),
        LEADS.c.assigned_at.is_(None),
        LEADS.c.closed_at.is_(None),
        or_(LEADS.c.stage.is_(None), LEADS.c.stage != "lead"),
    )
    for system, total, unowned, undated in connection.execute(
        select(
            LEADS.c.source_system,
            func.count(),
            func.count().filter(LEADS.c.owner_email.is_(None)),
            func.count().filter(no_handoff),
        ).group_by(LEADS.c.source_system)
    ):
        status.leads[system], status.unowned[system] = total, unowned
        if undated:
            status.undated[system] = undated
    status.unmatched_owners = unmatched_owners(connection)
    week = REJECTED.c.received_at >= now - timedelta(days=7)
    status.rejected_total = connection.execute(
        select(func.count()).select_from(REJECTED).where(week)
    ).scalar_one()
    status.rejected_events = [
        (at, system, reason)
        for at, system, reason in connection.execute(
            select(REJECTED.c.received_at, REJECTED.c.source_system, REJECTED.c.reason)
            .where(week)
            .order_by(REJECTED.c.received_at.desc(), REJECTED.c.id.desc())
            .limit(shown)
        )
    ]
    for channel, at in connection.execute(
        select(RUNS.c.channel, func.max(RUNS.c.at)).group_by(RUNS.c.channel)
    ):
        status.last[channel] = at
    return status
