"""What `/metrics` reads from the outbox and the ingest log, counted by the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from storage.models import OUTBOX, REJECTED, RUNS


@dataclass(frozen=True)
class DeliveryCounts:
    statuses: dict[str, int]  # outbox items per status
    retried: int  # items that needed more than one try
    applied: list[tuple[str, int]]  # (crm, webhook deliveries applied)
    rejected: list[tuple[str, int]]  # (crm, events set aside)


def delivery_counts(connection: Connection) -> DeliveryCounts:
    statuses = connection.execute(
        select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)
    ).all()
    retried = connection.execute(select(func.count()).where(OUTBOX.c.attempts > 1)).scalar_one()
    applied = connection.execute(
        select(RUNS.c.source_system, func.count())
        .where(RUNS.c.channel == "webhook")
        .group_by(RUNS.c.source_system)
    ).all()
    rejected = connection.execute(
        select(REJECTED.c.source_system, func.count()).group_by(REJECTED.c.source_system)
    ).all()
    return DeliveryCounts(
        {status: count for status, count in statuses},
        retried,
        [(system, count) for system, count in applied],
        [(system, count) for system, count in rejected],
    )
