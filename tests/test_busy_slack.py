"""Slack's rate limits under steady traffic: every list a rep receives is current when it leaves,
the queue drains once the traffic stops, the stand-up digest is not held behind the alerts,
and a newer text for a message is never undone by an older one."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from slack_sdk import WebClient
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from bot.settings import Settings
from tests.conftest import PG_URL, engine_for, fresh_database, slabot_env
from tests.fake_slack import BOT_TOKEN, FakeSlack

if TYPE_CHECKING:
    from bot.slack.delivery import Sender
from tests.test_clock import agreement_text, start_clocks, wait_for

REPS = [f"rep{n}@example.com" for n in range(15)]
# Slack's documented limits: chat.postMessage about one a second per channel (each DM is its
# own) within a workspace-wide allowance of several hundred a minute; chat.update,
# users.lookupByEmail and conversations.open are Tier 3, 50+ a minute
LIMITS = {
    "chat.postMessage": 300,
    "chat.update": 50,
    "users.lookupByEmail": 50,
    "conversations.open": 50,
}


@pytest.fixture
def busiest_database(tmp_path: Path) -> Iterator[str]:
    """PostgreSQL where the suite has it (where the tester soaked), else a SQLite file."""
    with fresh_database("postgresql" if PG_URL else "sqlite", tmp_path) as url:
        yield url


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    users = {email: f"U0REP{n}" for n, email in enumerate(REPS)}
    fake = FakeSlack(users_by_email={**users, "max@example.com": "U0MAX"}).start()
    yield fake
    fake.stop()


def soak_env(database_url: str, fake: FakeSlack, tmp_path: Path) -> dict[str, str]:
    """An upgraded database with the clock tests' agreement and REPS in its team; its
    stand-up was hours ago, so the clock does not post it (the soak runs the job itself)."""
    env = slabot_env(database_url, fake, SLABOT_SCAN_INTERVAL="5")
    path = tmp_path / "sla.toml"
    reps = "".join(
        f'\n[[reps]]\nemail = "{email}"\nteam = "na"\nmanager = "max@example.com"\n'
        for email in REPS
    )
    path.write_text(agreement_text(datetime.now(UTC), timedelta(hours=5)) + reps)
    for args in (("db", "upgrade"), ("sla", "apply", str(path))):
        subprocess.run(
            [sys.executable, "-m", "bot", *args], env=env, check=True, capture_output=True
        )
    return env


def due_soon_leads(path: Path, batch: int) -> None:
    """One new lead for each rep, assigned 3.5 business hours ago: its 4-hour first touch is
    due soon (the rep is warned at 75 %), so each rep's list grows by one."""
    assigned = (datetime.now(UTC) - timedelta(hours=3, minutes=30)).isoformat()
    path.write_text(
        "lead_id,name,company,source,owner_email,score,assigned_at\n"
        + "".join(
            f"S{batch}-{n},Lead {batch}-{n},Co {batch}-{n},website,{email},50,{assigned}\n"
            for n, email in enumerate(REPS)
        )
    )


def outbox_rows(engine: Engine) -> list:  # type: ignore[type-arg]
    from storage.models import OUTBOX

    with engine.connect() as connection:
        return list(connection.execute(select(OUTBOX).order_by(OUTBOX.c.id)))


def test_a_soak_sends_no_stale_list_keeps_the_digest_on_time_and_drains(
    busiest_database: str, slack: FakeSlack, tmp_path: Path
) -> None:
    """Fifteen reps' lists grow every 2.5 s for 20 s (more than Slack lets through) while the
    clock scans every 5 s and Slack allows what it documents; the stand-up digest falls due in
    the middle of it. No list leaves after a newer one for the same rep was queued, nothing
    meets a 429, the digest is out within seconds, and everything queued is sent soon after
    the traffic stops: the new lists at once, the folds of the replaced ones (a Tier 3
    `chat.update` each, 50 a minute) as fast as their pace of 40 a minute lets them."""
    from bot.flows.digest import scheduled_digest
    from bot.intake.csv_import import import_csv
    from bot.slack.delivery import FOLDS_PER_MINUTE
    from bot.slack.render import Renderer
    from storage.alerts import utc
    from storage.outbox import DM_KINDS

    for method, per_minute in LIMITS.items():
        slack.limit(method, per_minute)
    env = soak_env(busiest_database, slack, tmp_path)
    engine = engine_for(busiest_database)
    settings = Settings(**{k: v for k, v in env.items() if k.startswith(("SLACK_", "DATABASE"))})
    log = tmp_path / "clock.log"
    [clock] = start_clocks(env, [log])
    digest_took = None
    try:
        assert wait_for(lambda: "clock active" in log.read_text(), 30), log.read_text()
        started = time.monotonic()
        batch = 0
        while time.monotonic() - started < 20:
            due_soon_leads(tmp_path / f"batch{batch}.csv", batch)
            import_csv(engine, tmp_path / f"batch{batch}.csv")
            batch += 1
            if batch == 4:  # mid-soak, with alerts queued: the stand-up's job runs
                asked = time.monotonic()
                scheduled_digest(engine, Renderer(), settings, team="na", now=datetime.now(UTC))
                digest_took = time.monotonic() - asked
            time.sleep(2.5)
        stopped = time.monotonic()

        def drained() -> bool:
            rows = outbox_rows(engine)
            return all(row.status in ("sent", "superseded") for row in rows)

        done = wait_for(drained, 240)
        assert done is not None, [
            (r.kind, r.audience, r.status, r.last_error) for r in outbox_rows(engine)
            if r.status not in ("sent", "superseded")
        ]  # fmt: skip
        drain = done - stopped
        stopped_at = datetime.now(UTC) - timedelta(seconds=time.monotonic() - stopped)
    finally:
        clock.terminate()
        clock.wait(15)
    rows = outbox_rows(engine)
    engine.dispose()
    text = log.read_text()
    assert "Traceback" not in text, text

    # the digest went out at once, although alerts were queued behind Slack's limit
    assert digest_took is not None and digest_took < 5, digest_took
    assert len([m for m in slack.posts_in("C0STANDUP") if m.get("blocks")]) == 1
    # no list left after a newer one for the same person was queued
    lists = [row for row in rows if row.kind in DM_KINDS]
    for row in lists:
        if row.status == "sent":
            newer = [
                other
                for other in lists
                if other.audience == row.audience
                and other.id > row.id
                and other.created_at < row.claimed_at
            ]
            assert newer == [], (row.audience, row.id, [n.id for n in newer])
    assert {row.audience for row in lists} >= set(REPS)
    # each rep's last list shows every lead they were given
    for email in REPS:
        last = max((row for row in lists if row.audience == email and row.status == "sent"),
                   key=lambda row: row.id)  # fmt: skip
        assert all(f"Co {b}-{REPS.index(email)}" in str(last.payload) for b in range(batch))
    # Slack never had to refuse a call: the pace is under its documented limits
    refused = [(c.method, c.body.get("channel")) for c in slack.calls if c.status == 429]
    assert refused == [], refused
    # once the traffic stops, what is left goes within seconds but for the folds, which
    # leave at their pace: FOLDS_PER_MINUTE in any minute
    folds_after = sum(1 for row in rows if row.kind == "fold" and utc(row.sent_at) > stopped_at)
    assert drain < 20 + 60 * math.ceil(folds_after / FOLDS_PER_MINUTE), (drain, folds_after)
    keys = [c.body["metadata"]["event_payload"]["key"] for c in slack.calls_to("chat.postMessage")]
    assert len(keys) == len(set(keys))  # nothing twice


def sender_for(engine: Engine, fake: FakeSlack) -> Sender:
    """The clock's Sender, talking to the Slack stand-in as the app's client does."""
    from bot.slack.client import make_web_client
    from bot.slack.delivery import Sender

    settings = Settings(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=fake.api_url)
    return Sender(engine, make_web_client(settings), lease=timedelta(minutes=2))


def queue_channel_alerts(engine: Engine, count: int) -> None:
    from storage import outbox

    now = datetime.now(UTC)
    with engine.begin() as connection:
        for n in range(count):
            outbox.enqueue(connection, key=f"backlog:{n}", kind="sla_channel",
                           audience=f"C0BACKLOG{n}", day=now.date(),
                           payload={"text": f"backlog {n}"}, now=now)  # fmt: skip


def test_alerts_meeting_a_429_leave_slack_s_next_call_to_the_digest(
    engine: Engine, fake_slack: FakeSlack
) -> None:
    """Slack allows fewer posts than the pace asks for (10 in a 4-second window here). The
    alerts that meet its 429 give up at once and wait past its Retry-After, so the digest,
    waiting it out exactly, takes the first post Slack allows again."""
    from storage import outbox

    fake_slack.limit("chat.postMessage", 10, window=4)
    queue_channel_alerts(engine, 40)
    alerts = sender_for(engine, fake_slack)
    rounds = threading.Event()

    def clock() -> None:  # the clock's delivery job, every half second here
        while not rounds.is_set():
            alerts.deliver(alerts_per_minute=600)
            time.sleep(0.5)

    worker = threading.Thread(target=clock)
    worker.start()
    try:
        assert wait_for(lambda: any(c.status == 429 for c in fake_slack.calls), 10)
        now = datetime.now(UTC)
        with engine.begin() as connection:
            digest = outbox.enqueue(connection, key="digest:na", kind="digest",
                                    audience="C0STANDUP", day=now.date(),
                                    payload={"text": "the stand-up"}, now=now)  # fmt: skip
        assert digest is not None
        asked = time.monotonic()
        report = sender_for(engine, fake_slack).deliver(
            only=[digest], wait_up_to=timedelta(seconds=30)
        )
        took = time.monotonic() - asked
        assert wait_for(lambda: len(fake_slack.posts_in("C0BACKLOG39")) == 1, 60)
    finally:
        rounds.set()
        worker.join()
    # sent once: by this sender, or by the clock's round if it came due there first
    with engine.connect() as connection:
        item = outbox.item(connection, digest)
    assert item is not None and item.status == "sent", (item, report)
    assert took < 4 + 1.5, took  # at most Slack's window, not behind the alerts
    posts = [c for c in fake_slack.calls if c.method == "chat.postMessage"]
    after_refusal = [c for c in posts[posts.index(next(c for c in posts if c.status == 429)) :]
                     if c.status == 200]  # fmt: skip
    assert after_refusal[0].body["channel"] == "C0STANDUP"
    # an alert that met a 429 is tried again without a look for it in Slack (it was not sent)
    assert fake_slack.calls_to("conversations.history") == []
    assert sorted(c.body["channel"] for c in posts if c.status == 200).count("C0STANDUP") == 1


def test_a_newer_text_replaces_an_unsent_one_and_an_older_one_never_undoes_it(
    engine: Engine, fake_slack: FakeSlack
) -> None:
    """Three redraws of one DM queued before any is sent: only the newest is sent. An older
    text that failed before the newest was queued, due again after it was sent, is dropped."""
    from bot.slack.delivery import Sender
    from storage import outbox

    client = WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    sender = Sender(engine, client, lease=timedelta(minutes=2))
    now = datetime.now(UTC)
    with engine.begin() as connection:
        dm = outbox.enqueue(connection, key="dm", kind="sla_rep", audience="rita@example.com",
                            day=now.date(), payload={"text": "the list"}, now=now)  # fmt: skip
    sender.deliver()

    def redraw(n: int) -> int:
        with engine.begin() as connection:
            item = outbox.enqueue(connection, key=f"redraw:{n}", kind="update",
                                  audience="rita@example.com", day=now.date(),
                                  payload={"text": f"text {n}"}, now=datetime.now(UTC),
                                  update_of=dm)  # fmt: skip
        assert item is not None
        return item

    for n in range(3):
        redraw(n)
    report = sender.deliver()
    updates = fake_slack.calls_to("chat.update")
    assert [c.body["text"] for c in updates] == ["text 2"] and report.sent == 1

    fake_slack.fail("chat.update", 503)  # text 3 fails and waits for its retry
    older = redraw(3)
    sender.deliver()
    newest = redraw(4)
    sender.deliver(only=[newest])
    with engine.begin() as connection:
        outbox.retry_later(connection, older, at=datetime.now(UTC), error="due again")
    report = sender.deliver(only=[older])
    texts = [c.body["text"] for c in fake_slack.calls_to("chat.update")]
    assert texts == ["text 2", "text 4"] and report.superseded == 1
    with engine.connect() as connection:
        assert outbox.item(connection, older).status == outbox.SUPERSEDED  # type: ignore[union-attr]


def test_a_list_tried_before_is_not_sent_after_a_newer_one(
    engine: Engine, fake_slack: FakeSlack
) -> None:
    """Rita's first list met a timeout (it may have reached Slack, so a newer list could not
    replace it when it came). Due again, it is not in her DM, and a newer list is queued: it
    is dropped, and only the newer one is sent."""
    from storage import outbox

    now = datetime.now(UTC)
    with engine.begin() as connection:
        first = outbox.enqueue(connection, key="list:1", kind="sla_rep",
                               audience="rita@example.com", day=now.date(),
                               payload={"text": "older list"}, now=now)  # fmt: skip
        assert first is not None and outbox.claim(connection, first, now=now)
        outbox.retry_later(connection, first, at=now, error="timed out")
        assert not outbox.supersede_unsent(connection, first)  # it may have reached Slack
        outbox.enqueue(connection, key="list:2", kind="sla_rep", audience="rita@example.com",
                       day=now.date(), payload={"text": "newer list"}, now=now)  # fmt: skip
    report = sender_for(engine, fake_slack).deliver()
    assert (report.sent, report.superseded) == (1, 1)
    assert [m["text"] for m in fake_slack.posts_in("D0RITA")] == ["newer list"]


def test_the_pace_counts_what_reached_slack_this_minute_though_claimed_before_it(
    engine: Engine, fake_slack: FakeSlack
) -> None:
    """Slack counts a post when it arrives. A round whose sends took long (claimed a minute and
    a half ago, the last answered ten seconds ago) used this minute's room: at 60 a minute,
    after 50 such sends, 10 of 30 new alerts go now and 20 wait."""
    from storage import outbox

    sender = sender_for(engine, fake_slack)
    queue_channel_alerts(engine, 50)
    assert sender.deliver(alerts_per_minute=60).sent == 50
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            update(outbox.OUTBOX).values(
                claimed_at=now - timedelta(seconds=90), sent_at=now - timedelta(seconds=10)
            )
        )
        for n in range(30):
            outbox.enqueue(connection, key=f"new:{n}", kind=outbox.Kind.CHANNEL,
                           audience=f"C0NEW{n}", day=now.date(), payload={"text": "new"},
                           now=now)  # fmt: skip

    assert sender.deliver(alerts_per_minute=60).sent == 10


def test_the_pace_takes_folds_apart_from_new_messages(
    engine: Engine, fake_slack: FakeSlack
) -> None:
    """A fold is a `chat.update` (Tier 3, 50+ a minute): a round starts at most 40 of them,
    while new messages have the whole pace to themselves."""
    from storage import outbox

    sender = sender_for(engine, fake_slack)
    queue_channel_alerts(engine, 50)
    assert sender.deliver(alerts_per_minute=270).sent == 50
    now = datetime.now(UTC)
    with engine.begin() as connection:
        sent = [row.id for row in connection.execute(select(outbox.OUTBOX))]
        for n, item_id in enumerate(sent):
            outbox.enqueue(connection, key=f"fold:{n}", kind=outbox.Kind.FOLD,
                           audience=f"C0BACKLOG{n}", day=now.date(),
                           payload={"text": "replaced"}, now=now, update_of=item_id)  # fmt: skip
        outbox.enqueue(connection, key="new", kind=outbox.Kind.CHANNEL, audience="C0NEW",
                       day=now.date(), payload={"text": "new"}, now=now)  # fmt: skip

    report = sender.deliver(alerts_per_minute=270)

    assert len(fake_slack.calls_to("chat.update")) == 40  # ten folds wait for the next minute
    assert fake_slack.posts_in("C0NEW") != []
    assert report.sent == 41
