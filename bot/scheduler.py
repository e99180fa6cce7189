"""The clock: APScheduler runs the breach scan (with outbox delivery) on an interval.

Safe to run twice: scans serialise on a database lock and every message leaves through the
outbox, which a sender claims before calling Slack.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from bot.services.alerts import scan_and_deliver
from bot.settings import Settings
from bot.slack.render import Renderer

log = logging.getLogger(__name__)


def build_scheduler(settings: Settings, engine: Engine, scheduler: BlockingScheduler) -> None:
    """Register slabot's jobs on `scheduler`."""
    renderer = Renderer(settings.templates_dir)

    def breach_scan() -> None:
        outcome = scan_and_deliver(engine, renderer, settings, now=datetime.now(UTC))
        if outcome.result.messages or (outcome.report and outcome.report.retrying):
            log.info(
                "scan: %d messages queued, %d sent, %d pending",
                len(outcome.result.messages),
                outcome.report.sent if outcome.report else 0,
                outcome.pending,
            )

    scheduler.add_job(
        breach_scan,
        IntervalTrigger(seconds=settings.scan_interval),
        id="breach_scan",
        max_instances=1,
        coalesce=True,  # a clock that was stopped runs one scan, not every missed one
        next_run_time=datetime.now(UTC),
    )


def run_clock(settings: Settings, engine: Engine) -> None:
    scheduler = BlockingScheduler(timezone=UTC)
    build_scheduler(settings, engine, scheduler)
    log.info("clock started: breach scan every %ss", settings.scan_interval)
    scheduler.start()
