"""The clock's digest jobs: APScheduler's misfire grace decides whether a clock that starts
after the stand-up still posts, and two clocks on one database post one digest.

These run at the real time, so each test places the stand-up relative to now in a fixed-offset
timezone where it is about noon: every day is a workday there and nothing is a holiday."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.schedulers.background import BackgroundScheduler

from bot.domain.agreement import Agreement
from bot.scheduler import schedule_digests
from tests.conftest import slabot_env
from tests.fake_slack import FakeSlack

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sla.toml"


def noon_zone(now: datetime) -> str:
    """A fixed-offset zone where `now` is between 11:30 and 12:30."""
    offset = round(12 - (now.hour + now.minute / 60))
    return f"Etc/GMT{-offset:+d}"  # the Etc zones' signs are inverted: Etc/GMT-5 is UTC+5


def agreement_text(now: datetime, standup_ago: timedelta) -> str:
    zone = noon_zone(now)
    standup = (now.astimezone(ZoneInfo(zone)) - standup_ago).strftime("%H:%M")
    text = EXAMPLE.read_text()
    calendar = (
        f'[calendar]\ntimezone = "{zone}"\n'
        'workdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
        'hours = "00:00-23:59"\nholidays = ""\n\n'
    )
    text = text[: text.index("[calendar]")] + calendar + text[text.index("[marketing]") :]
    text = text.replace('standup = "09:00"', f'standup = "{standup}"')
    return text.replace('timezone = "America/New_York"', f'timezone = "{zone}"')


def agreement(now: datetime, standup_ago: timedelta) -> Agreement:
    from bot.domain.agreement_file import parse_agreement

    return parse_agreement(agreement_text(now, standup_ago))


def run_scheduler(standup_ago: timedelta, grace: int) -> tuple[list[str], list[int]]:
    """Start a scheduler with the digest jobs and report what it ran and what it skipped."""
    now = datetime.now(UTC)
    ran: list[str] = []
    events: list[int] = []
    done = threading.Event()
    scheduler = BackgroundScheduler(timezone=UTC)

    def seen(event) -> None:  # type: ignore[no-untyped-def]
        events.append(event.code)
        done.set()

    scheduler.add_listener(seen, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    jobs = schedule_digests(
        scheduler, agreement(now, standup_ago), ran.append, grace=grace, now=now
    )
    assert jobs == ["digest:na"]
    scheduler.start()
    try:
        done.wait(10)
        job = scheduler.get_job("digest:na")
        # either way the next run is tomorrow's stand-up
        assert job.next_run_time - now > timedelta(hours=12)
    finally:
        scheduler.shutdown()
    return ran, events


def test_a_clock_that_starts_20_minutes_late_still_posts() -> None:
    ran, events = run_scheduler(timedelta(minutes=20), grace=3600)
    assert ran == ["na"] and events == [EVENT_JOB_EXECUTED]


def test_a_clock_that_starts_in_the_afternoon_skips_the_stale_digest() -> None:
    ran, events = run_scheduler(timedelta(hours=6), grace=3600)
    assert ran == [] and events == [EVENT_JOB_MISSED]


def test_two_clocks_post_one_digest(
    database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    env = slabot_env(database_url, fake_slack, SLABOT_SCAN_INTERVAL="3600")
    path = tmp_path / "sla.toml"
    path.write_text(agreement_text(datetime.now(UTC), timedelta(minutes=5)))
    for args in (("db", "upgrade"), ("sla", "apply", str(path))):
        subprocess.run(
            [sys.executable, "-m", "bot", *args], env=env, check=True, capture_output=True
        )
    logs = [tmp_path / f"clock{n}.log" for n in (1, 2)]
    clocks = []
    for log in logs:
        with log.open("w") as handle:
            clocks.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bot", "clock"],
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = [log.read_text() for log in logs]
            if all("digest for na on" in each for each in text):
                break
            time.sleep(0.2)
        time.sleep(1)  # anything a second clock would send, it would have sent by now
    finally:
        for clock in clocks:
            clock.terminate()
        for clock in clocks:
            clock.wait(15)
    text = [log.read_text() for log in logs]
    assert all("digest for na on" in each for each in text), text
    assert not any("Traceback" in each for each in text), text
    digests = [m for m in fake_slack.posts_in("C0STANDUP") if m.get("blocks")]
    assert len(digests) == 1, text
    assert digests[0]["metadata"]["event_payload"]["key"].startswith("digest:na:")
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
