"""`slabot scan`: find what became due, queue it, deliver it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from bot.flows.delivery import sender
from bot.intake.registry import connected
from bot.services.alerts import ScanResult, scan
from bot.settings import Settings
from bot.slack.delivery import DeliveryReport
from bot.slack.render import Renderer
from storage import outbox


@dataclass
class ScanOutcome:
    result: ScanResult
    report: DeliveryReport | None = None
    pending: int = 0


def scan_and_deliver(
    engine: Engine,
    renderer: Renderer,
    settings: Settings,
    *,
    now: datetime,
    dry_run: bool = False,
    wait: timedelta = timedelta(0),
    progress: Callable[[int], None] | None = None,
) -> ScanOutcome:
    """Scan, then deliver everything queued (waiting up to `wait` for retries that fall
    due): `slabot scan`."""
    crms = connected(settings)
    outcome = ScanOutcome(
        scan(engine, renderer, now=now, dry_run=dry_run, progress=progress, crms=crms)
    )
    if dry_run or outcome.result.agreement is None:
        return outcome
    outcome.report = sender(engine, settings).deliver(wait_up_to=wait)
    with engine.connect() as connection:
        outcome.pending = outbox.counts(connection).get("pending", 0)
    return outcome
