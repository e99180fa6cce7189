"""The clock: APScheduler runs the breach scan on an interval, each team's stand-up digest at
its local stand-up time on its workdays, and the outbox's delivery beside them.

The three never wait for each other (each job has its own thread): a scan queues alerts and
returns, delivery sends them at a bounded pace, and a digest job sends its own digest at once.
Safe to run twice: scans serialise on a database lock, and every message leaves through the
outbox (a digest's key is its team and date), which a sender claims before calling Slack.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time as time_
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from bot.domain.agreement import Agreement, TeamTerms
from bot.domain.agreement_file import AgreementFileError
from bot.flows.delivery import sender
from bot.flows.digest import scheduled_digest
from bot.intake.registry import connected
from bot.intake.sync import sync, sync_line
from bot.services.alerts import ScanStopped, scan
from bot.settings import Settings
from bot.slack.channels import join_team_channels
from bot.slack.delivery import Sender
from bot.slack.render import Renderer
from storage import clock as clock_store
from storage import queries
from storage.agreements import agreement_in_force
from storage.clock import ClockLock, holder
from storage.db import session_scope
from storage.outages import outage_reason, unreachable

log = logging.getLogger(__name__)
DIGEST_JOB = "digest:"
DELIVERY_INTERVAL = 5  # seconds between delivery rounds
CHECKIN_INTERVAL = 30  # seconds between looks for check-ins due
RECALIBRATION_INTERVAL = 3600  # seconds between looks at whether a quarter's end is near
HEARTBEAT = 10  # seconds between the active clock's beats (/healthz: 503 after three missed)
STOP_GRACE = 10  # seconds a stopping clock gives the jobs in hand
SYNC_BUDGET = 45.0  # seconds of CRM sync before each scan; a longer backfill resumes next tick


def standup_trigger(agreement: Agreement, team: TeamTerms) -> CronTrigger:
    """The team's stand-up time in its timezone on its workdays (holidays and closed days are
    skipped by the job itself: cron cannot express them)."""
    calendar = agreement.team_calendar(team.name)
    at = time.fromisoformat(team.standup)
    return CronTrigger(
        day_of_week=",".join(agreement.calendar.workdays),
        hour=at.hour,
        minute=at.minute,
        timezone=calendar.tz,
    )


@dataclass(frozen=True)
class ScheduledDay:
    day: date
    local: datetime | None  # the stand-up, in the team's timezone
    skipped: str | None  # weekend, the holiday's name, closed


def upcoming(agreement: Agreement, team: TeamTerms, start: date, days: int) -> list[ScheduledDay]:
    """What the clock will do on each of `days` days from `start`."""
    calendar = agreement.team_calendar(team.name)
    trigger = standup_trigger(agreement, team)
    found = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        reason = calendar.closed_reason(day)
        if reason is not None:
            found.append(ScheduledDay(day, None, reason))
            continue
        midnight = datetime.combine(day, time(0), tzinfo=calendar.tz)
        fire = trigger.get_next_fire_time(None, midnight)
        found.append(ScheduledDay(day, fire, None))
    return found


def schedule_digests(
    scheduler: BaseScheduler,
    agreement: Agreement | None,
    run,
    *,
    grace: int,
    now: datetime,
) -> list[str]:
    """(Re)build one job per team. Each job's first run is today's stand-up, even if it has
    passed: APScheduler then runs it if it is within `grace` seconds (a clock that came up at
    09:20) and skips it as missed otherwise (a clock that came up at 15:00)."""
    for job in scheduler.get_jobs():
        if job.id.startswith(DIGEST_JOB):
            job.remove()
    if agreement is None:
        return []
    ids = []
    for team in agreement.teams:
        trigger = standup_trigger(agreement, team)
        midnight = datetime.combine(
            agreement.team_calendar(team.name).today(now), time(0), tzinfo=trigger.timezone
        )
        job = scheduler.add_job(
            run,
            trigger,
            args=[team.name],
            id=DIGEST_JOB + team.name,
            name=f"stand-up digest for {team.name}",
            misfire_grace_time=grace,
            coalesce=True,
            max_instances=1,
            next_run_time=trigger.get_next_fire_time(None, midnight),
        )
        ids.append(job.id)
    return ids


class InFlight:
    """Counts the jobs running now, so a stopping clock can let them finish; a job that finds
    the database away says so in one line (its transaction rolled back; the next run redoes
    it)."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def track(self, job: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(job)
        def tracked(*args: object) -> None:
            with self._idle:
                self._count += 1
            try:
                job(*args)
            except Exception as error:
                if not unreachable(error):
                    raise  # APScheduler logs it with its traceback; the next run goes on
                log.warning(
                    "%s: the database cannot be reached (%s); the next run tries again",
                    job.__name__,
                    outage_reason(error),
                )
            finally:
                with self._idle:
                    self._count -= 1
                    self._idle.notify_all()

        return tracked

    def wait_idle(self, seconds: float) -> int:
        """Wait up to `seconds` for running jobs to end; how many are still running."""
        with self._idle:
            self._idle.wait_for(lambda: self._count == 0, timeout=seconds)
            return self._count


class ClockJobs:
    """The clock's jobs and what they remember between runs: when the CRMs were last synced
    and which agreement version the digest jobs were built from."""

    def __init__(
        self, settings: Settings, engine: Engine, scheduler: BaseScheduler, in_flight: InFlight
    ) -> None:
        self.settings, self.engine, self.scheduler = settings, engine, scheduler
        self.renderer = Renderer(settings.templates_dir)
        self.deliverer = sender(engine, settings)
        self.last_sync = 0.0  # monotonic time of the last CRM sync
        self.in_force: object = object()  # the version key the digest jobs were built from
        self.track = in_flight.track

    def register(self) -> None:
        """Build the digest jobs of the agreement in force, then run every job on its own."""
        follow = self.track(self.follow_agreement)
        follow()
        every(self.scheduler, follow, 60, start_now=False)
        every(self.scheduler, self.track(self.breach_scan), self.settings.scan_interval)
        every(self.scheduler, self.track(self.delivery), DELIVERY_INTERVAL)
        every(self.scheduler, self.track(self.recalibration), RECALIBRATION_INTERVAL)
        every(self.scheduler, self.track(self.checkins), CHECKIN_INTERVAL)

    def timed(self, job: str, seconds: float) -> None:
        with self.engine.begin() as connection:
            clock_store.took(connection, job, seconds)

    def crm_sync(self) -> None:
        """Read what changed in the CRMs (every SLABOT_SYNC_INTERVAL), so the scan that
        follows never pages a rep for a call already logged there."""
        settings = self.settings
        if (
            not connected(settings)
            or time_.monotonic() - self.last_sync < settings.sync_interval - 1
        ):
            return
        self.last_sync = time_.monotonic()
        # a long backfill (the first sync of a large CRM) goes on at the next tick
        stopping = self.deliverer.stopping
        for report in sync(self.engine, settings, stopping=stopping, budget=SYNC_BUDGET):
            if report.read or report.error:
                log.info("sync: %s", sync_line(report))

    def breach_scan(self) -> None:
        self.crm_sync()
        started = time_.monotonic()
        try:  # a stopping clock finishes the batch of clocks in hand; the next scan goes on
            result = scan(
                self.engine,
                self.renderer,
                now=datetime.now(UTC),
                progress=ScanProgress(),
                stopping=self.deliverer.stopping,
                crms=connected(self.settings),
            )
        except ScanStopped as stopped:
            log.info("scan: %s; the next scan goes on from there", stopped)
            return
        self.timed("scan", time_.monotonic() - started)
        if result.messages:
            log.info("scan: %d messages queued", len(result.messages))

    def delivery(self) -> None:
        report = self.deliverer.deliver(alerts_per_minute=self.settings.alerts_per_minute)
        if report.sent or report.retrying or report.failed:
            log.info(
                "delivery: %d sent, %d retrying, %d failed",
                report.sent,
                report.retrying,
                report.failed,
            )

    def digest(self, team: str) -> None:
        started = time_.monotonic()
        now = datetime.now(UTC)
        log.info(scheduled_digest(self.engine, self.renderer, self.settings, team=team, now=now))
        self.timed("digest", time_.monotonic() - started)

    def checkins(self) -> None:
        """The check-ins due before each team's stand-up (once per rep and day), and the
        managers' weekly summaries at the close of a team's week."""
        from bot.services.checkins import send_checkins
        from bot.services.weekly import send_weekly

        now = datetime.now(UTC)
        queued = send_checkins(self.engine, now)
        if queued:
            log.info("check-in: %d DMs queued", len(queued))
        weekly = send_weekly(self.engine, self.renderer, now)
        if weekly:
            log.info("weekly summary: %d DMs queued", len(weekly))

    def recalibration(self) -> None:
        """In the last week of a quarter, once: the last quarter's actual rates, proposed."""
        from bot.services import agreement_edits, proposals

        now = datetime.now(UTC)
        try:
            if not proposals.recalibration_due(self.engine, now):
                return
            proposal, _ = proposals.propose_recalibration(
                self.engine, self.renderer, by="slabot", now=now
            )
        except (
            agreement_edits.NoAgreementApplied,
            proposals.ProposalRefused,
            AgreementFileError,
        ) as why:
            log.info("recalibration: not proposed: %s", why)
            return
        log.info("recalibration: proposal %d posted for sign-off", proposal.id)

    def follow_agreement(self) -> None:
        """Rebuild the digest jobs when a new agreement version comes into force."""
        now = datetime.now(UTC)
        with session_scope(self.engine) as session:
            key = queries.agreement_version_key_in_force(session, on=now.date())
        if key == self.in_force:
            return
        self.in_force = key
        agreement = agreement_in_force(self.engine, on=now.date())
        digest = self.track(self.digest)
        jobs = schedule_digests(
            self.scheduler, agreement, digest, grace=self.settings.digest_grace, now=now
        )
        log.info("digest jobs for agreement version %s: %s", key[1] if key else None, jobs)
        if agreement is not None:  # a private channel that has not invited the app is logged
            channels = [team.channel for team in agreement.teams]
            join_team_channels(self.deliverer.client, channels)


def build_scheduler(
    settings: Settings, engine: Engine, scheduler: BaseScheduler, in_flight: InFlight | None = None
) -> Sender:
    """Register slabot's jobs on `scheduler`; returns the clock's sender (to stop it)."""
    jobs = ClockJobs(settings, engine, scheduler, in_flight or InFlight())
    jobs.register()
    return jobs.deliverer


class ScanProgress:
    """A long scan (the first after a large import) says how far it is, every few seconds."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.every_s = every_s
        self.last = time_.monotonic()

    def __call__(self, done: int) -> None:
        if time_.monotonic() - self.last >= self.every_s:
            self.last = time_.monotonic()
            log.info("scan: clocks of %s leads computed so far", f"{done:,}")


def every(
    scheduler: BaseScheduler, job: Callable[[], None], seconds: int, *, start_now: bool = True
) -> None:
    """Run `job` every `seconds`, one run at a time; a clock that was stopped runs it once,
    not once per missed interval."""
    scheduler.add_job(
        job,
        IntervalTrigger(seconds=seconds),
        id=job.__name__,
        max_instances=1,
        coalesce=True,
        **({"next_run_time": datetime.now(UTC)} if start_now else {}),
    )


class Clock:
    """The clock's jobs in this process, once it holds the clock lock: the breach scan, the
    digests, delivery and a heartbeat every HEARTBEAT seconds."""

    def __init__(self, settings: Settings, engine: Engine, scheduler: BaseScheduler) -> None:
        self.settings, self.engine, self.scheduler = settings, engine, scheduler
        self.lock = ClockLock(engine)
        self.in_flight = InFlight()
        self.deliverer: Sender | None = None

    def take_over(self) -> None:
        """Hold the clock lock (a standby waits on PostgreSQL; SQLite refuses a second clock
        with ClockAlreadyRunning), then schedule the jobs."""
        self.lock.acquire(
            waiting=lambda: log.info("standby: another clock is active; waiting to take over")
        )
        log.info("clock active (%s): breach scan every %ss", holder(), self.settings.scan_interval)
        self.deliverer = build_scheduler(self.settings, self.engine, self.scheduler, self.in_flight)
        every(self.scheduler, self.in_flight.track(self.heartbeat), HEARTBEAT)

    def heartbeat(self) -> None:
        lock = self.lock
        if not lock.still_held():
            again = lock.retake()
            if again is None:
                log.warning("the database cannot be reached: the clock keeps trying")
                return
            if not again:
                log.error("another clock took over while the database was away: stopping")
                os.kill(os.getpid(), signal.SIGTERM)
                return
            log.info("the clock lock is ours again after the database came back")
        with self.engine.begin() as connection:
            clock_store.beat(connection, every_s=HEARTBEAT, now=datetime.now(UTC))

    def stop_taking_work(self) -> None:
        if self.deliverer is not None:
            self.deliverer.stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def finish(self) -> None:
        """Let running jobs finish for up to STOP_GRACE seconds and give up the lock."""
        left = self.in_flight.wait_idle(STOP_GRACE)
        self.lock.release()
        if left:
            log.warning(
                "%d job(s) still running after %ss: they resume at the next start",
                left,
                STOP_GRACE,
            )
        else:
            log.info("clock stopped")


def run_clock(settings: Settings, engine: Engine) -> None:
    """Become the active clock (a second one waits as a standby on PostgreSQL) and run the
    jobs. SIGTERM stops taking work, lets running jobs finish for up to STOP_GRACE seconds,
    and exits 0; whatever was cut short resumes at the next start."""
    clock = Clock(settings, engine, BlockingScheduler(timezone=UTC))
    clock.take_over()

    def stop(signum: int, _frame: object) -> None:
        log.info("%s: finishing the work in hand", signal.Signals(signum).name)
        clock.stop_taking_work()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    clock.scheduler.start()
    clock.finish()
    logging.shutdown()
    os._exit(0)  # job threads still running are cut short; the outbox's lease covers them


def start_background_clock(settings: Settings, engine: Engine) -> Clock:
    """The clock's jobs on background threads of this process (`slabot run`). SQLite refuses
    a second clock here and now; on PostgreSQL a standby waits on its own thread."""
    clock = Clock(settings, engine, BackgroundScheduler(timezone=UTC))
    if engine.dialect.name != "postgresql":
        clock.take_over()
        clock.scheduler.start()
        return clock

    def wait_then_run() -> None:
        clock.take_over()
        clock.scheduler.start()

    threading.Thread(target=wait_then_run, name="slabot-clock", daemon=True).start()
    return clock
