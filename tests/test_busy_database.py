"""Slack hears back within 3 s while another process holds the database: SQLite's write lock
(as a long import holds it), PostgreSQL's lock on the lead table. The answers and the touch
follow once the lock is gone."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.conftest import RunningServer, engine_for
from tests.fake_slack import FakeSlack
from tests.signing import block_action_body, signed_headers, slash_command_body
from tests.test_alert_actions import app, lead_field, lead_id, the_dm  # noqa: F401 (fixture)
from tests.test_clock import wait_for

HOLD = 7.0  # seconds the other process keeps the database
SLACK_WAITS = 3.0


@contextmanager
def database_held(database_url: str) -> Iterator[threading.Event]:
    """Another connection takes the lock now and keeps it HOLD seconds (the event is set when
    it lets go); the block runs meanwhile."""
    released, taken = threading.Event(), threading.Event()

    def hold() -> None:
        if database_url.startswith("sqlite"):
            db = sqlite3.connect(make_url(database_url).database, isolation_level=None)
            db.execute("BEGIN IMMEDIATE")  # what an import's transaction holds
            taken.set()
            time.sleep(HOLD)
            db.execute("ROLLBACK")
            db.close()
        else:
            engine = engine_for(database_url)
            with engine.connect() as connection:
                connection.execute(text("LOCK TABLE lead IN ACCESS EXCLUSIVE MODE"))
                taken.set()
                time.sleep(HOLD)
                connection.rollback()
            engine.dispose()
        released.set()

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10)
    try:
        yield released
    finally:
        holder.join()


def timed_post(server: RunningServer, body: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = server.post("/slack/events", body, signed_headers(body))
    return response, time.monotonic() - started


def answer_of(fake: FakeSlack, command: str, acked: dict) -> dict | None:
    """The command's answer: the acknowledgement itself, or what followed at its response URL
    after a "working on it" acknowledgement."""
    if "Working on it" not in acked.get("text", ""):
        return acked
    posted = [c.body for c in fake.calls_to("response_url") if c.path.endswith(f"/{command}")]
    return posted[-1] if posted else None


def test_slack_hears_back_in_time_while_another_process_holds_the_database(
    app,  # type: ignore[no-untyped-def]  # noqa: F811
    fake_slack: FakeSlack,
    database_url: str,
) -> None:
    server, env = app
    commands = {
        name: slash_command_body(f"/{name}", words, response_url=fake_slack.response_url(name))
        for name, words in (("pace", ""), ("quota", "500k aov=2k win=23%"))
    }
    unlocked = {name: timed_post(server, body)[0].json() for name, body in commands.items()}
    ts, _ = the_dm(fake_slack)
    lead = lead_id(env, "A1")
    press = block_action_body(
        "sla_contacted",
        str(lead),
        response_url=fake_slack.response_url("act"),
        channel="D0RITA",
        message_ts=ts,
        ephemeral=False,
    )

    with database_held(database_url) as released:
        acked = {}
        for name, body in commands.items():
            response, took = timed_post(server, body)
            assert response.status_code == 200 and took < SLACK_WAITS, (name, took)
            acked[name] = response.json()
        response, took = timed_post(server, press)
        assert response.status_code == 200 and took < SLACK_WAITS, ("contacted", took)
        assert not released.is_set()  # all three answered while the lock was held
        touches = engine_for(database_url)
        with touches.connect() as connection:  # the touch table itself is not locked
            assert connection.execute(text("SELECT count(*) FROM touch")).scalar() == 0
        touches.dispose()

    # once the lock is gone: the touch lands, the DM is redrawn, every answer arrives
    assert wait_for(lambda: lead_field(env, "A1", "first_touch_at") is not None, 20)
    assert wait_for(lambda: bool(fake_slack.calls_to("chat.update")), 20)
    for name in commands:
        assert wait_for(lambda name=name: answer_of(fake_slack, name, acked[name]), 20)
        answer = answer_of(fake_slack, name, acked[name])
        assert answer is not None
        assert answer["text"] == unlocked[name]["text"], name  # the same answer, only later
    log = server.log.read_text()
    assert "Traceback" not in log, log
