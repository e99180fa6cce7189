"""The clock's digest jobs: APScheduler's misfire grace decides whether a clock that starts
after the stand-up still posts; a standby clock takes over from a killed one; SIGTERM lets
the work in hand finish; Slack's rate limit does not push the scan or the digest back.

These run at the real time, so each test places the stand-up relative to now in a fixed-offset
timezone where it is about noon: every day is a workday there and nothing is a holiday."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.schedulers.background import BackgroundScheduler

from bot.domain.agreement import Agreement
from bot.scheduler import schedule_digests
from tests.conftest import engine_for, fresh_database, replaying, slabot_env
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
    return replaying(text.replace('timezone = "America/New_York"', f'timezone = "{zone}"'))


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


def start_clocks(env: dict[str, str], logs: list[Path]) -> list[subprocess.Popen]:
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
    return clocks


def wait_for(check, seconds: float) -> float | None:  # type: ignore[no-untyped-def]
    """Poll `check` until it holds; the monotonic time it first held, or None."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(0.2)
    return None


def test_under_a_rate_limit_the_scan_and_the_digest_keep_their_schedule(
    database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Slack allows 40 posts a minute; 100 channel alerts are already queued. The stand-up
    digest still goes out at once, a breach imported meanwhile is queued by the next scan, and
    the clock keeps under the limit (Slack never answers 429)."""
    from storage import outbox
    from storage.db import make_engine

    env = applied_env(
        database_url,
        fake_slack,
        tmp_path,
        timedelta(0),
        SLABOT_SCAN_INTERVAL="5",
        SLABOT_ALERTS_PER_MINUTE="30",
    )
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for n in range(100):
            outbox.enqueue(
                connection,
                key=f"backlog:{n}",
                kind="sla_channel",
                audience=f"C0BACKLOG{n}",
                day=now.date(),
                payload={"text": f"backlog {n}"},
                now=now,
            )
    fake_slack.limit("chat.postMessage", 40)
    logs = [tmp_path / "clock.log"]
    started = time.monotonic()
    clocks = start_clocks(env, logs)
    try:
        posted = wait_for(lambda: fake_slack.posts_in("C0STANDUP"), 30)
        assert posted is not None, [log.read_text() for log in logs]
        assert posted - started < 15  # the clock starting up, then the digest at once

        leads = tmp_path / "breach.csv"
        assigned = (now - timedelta(days=2)).isoformat()
        leads.write_text(
            "lead_id,name,company,source,owner_email,score,assigned_at,first_touch_at,crm_url\n"
            f"L-LATE,Lee,Acme,webinar,rita@example.com,80,{assigned},,\n"
        )
        subprocess.run(
            [sys.executable, "-m", "bot", "import", str(leads)],
            env=env,
            check=True,
            capture_output=True,
        )
        imported = time.monotonic()

        def breach_queued() -> bool:
            with engine.connect() as connection:
                item = outbox.latest_of_day(
                    connection, kind="sla_rep", audience="rita@example.com", day=now.date()
                )
            return item is not None and "Acme" in json.dumps(item.payload)

        queued = wait_for(breach_queued, 30)
        assert queued is not None, [log.read_text() for log in logs]
        assert queued - imported < 12  # the next scan (every 5 s), not after the backlog
        time.sleep(2)
    finally:
        for clock in clocks:
            clock.terminate()
        for clock in clocks:
            clock.wait(15)
    engine.dispose()
    text = [log.read_text() for log in logs]
    assert not any("Traceback" in each for each in text), text
    posts = fake_slack.calls_to("chat.postMessage")
    refused = [c for c in fake_slack.calls if c.method == "chat.postMessage" and c.status == 429]
    assert refused == [], text
    backlog = [c for c in posts if c.body["channel"].startswith("C0BACKLOG")]
    assert len(backlog) == 30  # the pace: 30 alerts a minute
    keys = [c.body["metadata"]["event_payload"]["key"] for c in posts]
    assert len(keys) == len(set(keys))  # nothing twice
    assert len([m for m in fake_slack.posts_in("C0STANDUP") if m.get("blocks")]) == 1


def applied_env(
    database_url: str,
    fake: FakeSlack,
    tmp_path: Path,
    standup_ago: timedelta = timedelta(minutes=5),
    **extra: str,
) -> dict[str, str]:
    """An upgraded database with an agreement whose stand-up was `standup_ago` ago."""
    env = slabot_env(database_url, fake, **extra)
    path = tmp_path / "sla.toml"
    path.write_text(agreement_text(datetime.now(UTC), standup_ago))
    for args in (("db", "upgrade"), ("sla", "apply", str(path))):
        subprocess.run(
            [sys.executable, "-m", "bot", *args], env=env, check=True, capture_output=True
        )
    return env


def test_a_standby_clock_takes_over_from_a_killed_one_and_posts_the_digest_once(
    database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("a standby clock needs PostgreSQL's advisory locks")
    env = applied_env(
        database_url, fake_slack, tmp_path, SLABOT_SCAN_INTERVAL="5", SLABOT_SEND_LEASE="0"
    )
    fake_slack.stall_post_after(0)  # the first clock's digest reaches Slack; no answer comes
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    [active] = start_clocks(env, [first])
    standby = None
    try:
        assert wait_for(lambda: fake_slack.posts_in("C0STANDUP"), 30), first.read_text()
        [standby] = start_clocks(env, [second])
        assert wait_for(lambda: "standby: another clock is active" in second.read_text(), 30)
        active.kill()  # SIGKILL mid-send: its lock goes with its connection
        active.wait()
        killed = time.monotonic()
        took_over = wait_for(lambda: "clock active" in second.read_text(), 30)
        assert took_over is not None and took_over - killed < 30, second.read_text()
        # the standby finds the stalled digest in the channel instead of posting it again
        # the chart goes into the digest's thread once the digest is known to be sent
        assert wait_for(lambda: fake_slack.files, 30), second.read_text()
        time.sleep(3)
    finally:
        for clock in (active, standby):
            if clock is not None and clock.poll() is None:
                clock.terminate()
                clock.wait(15)
    digests = [m for m in fake_slack.posts_in("C0STANDUP") if m.get("blocks")]
    assert len(digests) == 1, second.read_text()
    assert fake_slack.calls_to("conversations.history")  # it looked before sending again
    assert "Traceback" not in second.read_text()


def test_a_second_clock_on_sqlite_refuses_with_one_line(
    database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL has a standby instead")
    env = applied_env(
        database_url, fake_slack, tmp_path, SLABOT_SCAN_INTERVAL="3600", SLABOT_SEND_LEASE="0"
    )
    log = tmp_path / "first.log"
    [first] = start_clocks(env, [log])
    try:
        assert wait_for(lambda: "clock active" in log.read_text(), 30), log.read_text()
        second = subprocess.run(
            [sys.executable, "-m", "bot", "clock"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        first.terminate()
        first.wait(15)
    assert second.returncode == 1
    [line] = second.stderr.strip().splitlines()[-1:]
    assert "another slabot clock" in line and "use PostgreSQL" in line
    assert "Traceback" not in second.stderr


def test_sigterm_lets_the_work_in_hand_finish_and_exits_0(
    database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    env = applied_env(
        database_url, fake_slack, tmp_path, SLABOT_SCAN_INTERVAL="3600", SLABOT_SEND_LEASE="0"
    )
    log = tmp_path / "clock.log"
    [clock] = start_clocks(env, [log])
    assert wait_for(lambda: "clock active" in log.read_text(), 30), log.read_text()
    assert wait_for(lambda: "digest for na on" in log.read_text(), 30), log.read_text()
    clock.send_signal(signal.SIGTERM)
    stopping = time.monotonic()
    assert clock.wait(20) == 0
    assert time.monotonic() - stopping < 12
    text = log.read_text()
    assert "SIGTERM: finishing the work in hand" in text and "clock stopped" in text, text
    assert "Traceback" not in text


def test_a_clock_killed_or_stopped_mid_scan_leaves_the_next_scan_to_tell_everything_once(
    database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """30,000 breached leads imported at once: the first scan computes their clocks in
    batches. One clock is SIGKILLed and the next SIGTERMed while it computes; each keeps the
    batches it finished, and the third clock's scan tells each audience once (Rita, in hours
    around the clock; her manager; the team's channel)."""
    from sqlalchemy import text

    from storage.db import make_engine

    leads = 30_000
    env = applied_env(database_url, fake_slack, tmp_path, timedelta(hours=-3),
                      SLABOT_SCAN_INTERVAL="3600", SLABOT_SEND_LEASE="0")  # fmt: skip
    assigned = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    path = tmp_path / "leads.csv"
    path.write_text(
        "lead_id,company,source,owner_email,assigned_at\n"
        + "".join(f"L{n},Co{n},website,rita@example.com,{assigned}\n" for n in range(leads))
    )
    subprocess.run([sys.executable, "-m", "bot", "import", str(path)], env=env, check=True,
                   capture_output=True)  # fmt: skip
    engine = make_engine(database_url)

    def stale() -> int:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT count(*) FROM lead WHERE clocks_stale")
            ).scalar_one()

    logs = [tmp_path / f"clock{n}.log" for n in range(3)]
    try:
        [killed] = start_clocks(env, logs[:1])
        assert wait_for(lambda: 0 < stale() < leads, 60), logs[0].read_text()
        killed.kill()
        killed.wait(10)
        left = stale()
        assert 0 < left < leads

        [stopped] = start_clocks(env, logs[1:2])
        assert wait_for(lambda: 0 < stale() < left, 60), logs[1].read_text()
        stopped.send_signal(signal.SIGTERM)
        assert stopped.wait(15) == 0
        assert "the next scan goes on from there" in logs[1].read_text(), logs[1].read_text()
        assert 0 < stale() < left  # the batches it finished are kept
        assert fake_slack.calls_to("chat.postMessage") == []  # nobody told a half-done scan

        [finishing] = start_clocks(env, logs[2:])
        told = wait_for(lambda: len(fake_slack.calls_to("chat.postMessage")) >= 3, 90)
        assert told, logs[2].read_text()
        time.sleep(6)  # a delivery round or two more: nothing else goes out
        finishing.send_signal(signal.SIGTERM)
        finishing.wait(15)
    finally:
        for log in logs:
            assert "Traceback" not in log.read_text(), log.read_text()
    assert stale() == 0
    with engine.connect() as connection:
        untold = connection.execute(
            text("SELECT count(*) FROM sla_clock WHERE rule = 'first_touch' AND alerted < 4")
        ).scalar_one()
    engine.dispose()
    assert untold == 0  # every level of every lead's first-touch clock told
    posts = fake_slack.calls_to("chat.postMessage")
    keys = [c.body["metadata"]["event_payload"]["key"] for c in posts]
    assert len(keys) == len(set(keys))
    # one message per audience: the rep, her manager, the team's channel
    assert sorted(c.body["channel"] for c in posts) == ["C0STANDUP", "U0MAX", "U0RITA"]
    [dm] = fake_slack.posts_in("D0RITA")
    assert f"{leads}" in dm["text"]  # all her leads in the one DM


def test_two_installs_in_two_schemas_of_one_database_each_have_their_own_clock(
    tmp_path: Path,
) -> None:
    """PostgreSQL's advisory locks belong to the whole database: the clock's is taken per
    schema, so a second install beside the first is not kept standing by."""
    from storage.clock import ClockLock

    def refused() -> None:
        raise AssertionError("kept standing by")

    with (
        fresh_database("postgresql", tmp_path) as one,
        fresh_database("postgresql", tmp_path) as two,
    ):
        engines = [engine_for(one), engine_for(two), engine_for(one)]
        locks = [ClockLock(engine) for engine in engines]
        try:
            locks[0].acquire(waiting=refused)
            locks[1].acquire(waiting=refused)  # the other schema's clock is active too
            with pytest.raises(AssertionError, match="kept standing by"):
                locks[2].acquire(waiting=refused)  # a second clock of the first install waits
        finally:
            for lock in locks:
                lock.release()
            for engine in engines:
                engine.dispose()
