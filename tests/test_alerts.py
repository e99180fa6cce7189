"""Breach alerts end to end: `slabot scan --at` against the Slack stand-in, on the example
agreement (4 business hours, US holidays, New York hours; Sam works Berlin hours)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.cli_runner import Ran, run_slabot
from tests.conftest import engine_for, replaying, slabot_env
from tests.fake_slack import FakeSlack

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sla.toml"
HEADER = "lead_id,name,company,source,owner_email,score,assigned_at,first_touch_at,crm_url"


def run(env: dict[str, str], *args: str) -> Ran:
    result = run_slabot(*args, env={**env, "COLUMNS": "200"})
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def env(database_url: str, fake_slack: FakeSlack, tmp_path: Path) -> dict[str, str]:
    env = slabot_env(database_url, fake_slack, SLABOT_SEND_LEASE="0")
    run(env, "db", "upgrade")
    agreement = tmp_path / "sla.toml"
    agreement.write_text(replaying(EXAMPLE.read_text()))
    run(env, "sla", "apply", str(agreement))
    return env


def load(env: dict[str, str], tmp_path: Path, *rows: str) -> None:
    path = tmp_path / f"leads{time.monotonic_ns()}.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    run(env, "import", str(path))


def dm(fake: FakeSlack, user: str) -> list[dict]:
    """The messages in the app's DM with `user`, oldest first (the stand-in names DMs D…)."""
    return sorted(fake.posts_in("D" + user.lstrip("U")), key=lambda m: float(m["ts"]))


def blocks_text(message: dict) -> str:
    return json.dumps(message["blocks"])


def test_friday_afternoon_lead_breaches_monday_after_noon(
    env: dict[str, str], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    load(env, tmp_path, "L1,Jane Doe,<!channel> ACME,website,rita@example.com,90,"
                        "2026-11-20T16:00,,https://crm.example/L1")  # fmt: skip
    run(env, "scan", "--at", "2026-11-23T11:59-05:00")
    [warning] = dm(fake_slack, "U0RITA")
    assert "due soon" in warning["text"] and "breached" not in warning["text"]
    assert "first touch due Mon 23 Nov 12:00" in blocks_text(warning)

    run(env, "scan", "--at", "2026-11-23T12:01-05:00")
    earlier, breach = dm(fake_slack, "U0RITA")
    assert "past the SLA" in breach["text"]
    assert "first touch was due Mon 23 Nov 12:00" in blocks_text(breach)
    assert "replaced by a newer one" in earlier["text"]  # the morning's list folded away
    assert [c.body["ts"] for c in fake_slack.calls_to("chat.update")] == [earlier["ts"]]
    # CRM text never pings anyone; the CRM link is there; the buttons act on the lead
    assert "<!channel>" not in breach["text"] + blocks_text(breach)
    assert "&lt;!channel&gt; ACME" in blocks_text(breach)
    assert "<https://crm.example/L1|open in CRM>" in blocks_text(breach)
    actions = next(b for b in breach["blocks"] if b["type"] == "actions")["elements"]
    assert [a["action_id"] for a in actions] == [
        "sla_contacted", "sla_snooze", "sla_recycle", "route_hand_back", "lead_history"
    ]  # fmt: skip
    assert breach["metadata"]["event_type"] == "slabot_message"

    run(env, "scan", "--at", "2026-11-23T12:05-05:00")  # nothing new: nothing sent
    assert len(fake_slack.calls_to("chat.postMessage")) == 2
    # Rita found by one walk of the workspace's people, then kept: no Tier 3 look-up
    assert len(fake_slack.calls_to("users.list")) == 1
    assert fake_slack.calls_to("users.lookupByEmail") == []


def test_thanksgiving_stops_the_clock(
    env: dict[str, str], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    load(env, tmp_path, "L2,Tom Turkey,Initech,website,rita@example.com,50,2026-11-25T16:00,,")
    result = run(env, "scan", "--at", "2026-11-27T10:00-05:00")
    assert "Nobody needs to be told" in result.stdout
    assert dm(fake_slack, "U0RITA") == []
    run(env, "scan", "--at", "2026-11-27T12:01-05:00")
    [breach] = dm(fake_slack, "U0RITA")
    assert "was due Fri 27 Nov 12:00" in blocks_text(breach)


def test_berlin_rep_clock_follows_berlin_hours(
    env: dict[str, str], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    # assigned Friday 16:00 Berlin (10:00 New York): 1h on Friday, 3h on Monday morning
    load(
        env, tmp_path, "L3,Eva Ost,Stark GmbH,outbound,sam@example.com,60,2026-11-20T16:00+01:00,,"
    )
    run(env, "scan", "--at", "2026-11-23T11:59+01:00")  # 05:59 in New York: Sam is at work
    [warning] = dm(fake_slack, "U0SAM")
    assert "due Mon 23 Nov 12:00" in blocks_text(warning)  # shown in Sam's own time
    run(env, "scan", "--at", "2026-11-23T12:01+01:00")
    assert "past the SLA" in dm(fake_slack, "U0SAM")[-1]["text"]
    # 17:30 Berlin: Sam has left, but the 4h escalation falls in Max's New York morning
    result = run(env, "scan", "--at", "2026-11-23T17:30+01:00", "--dry-run")
    assert "DM to manager max@example.com" in result.stdout
    assert "DM to sam@example.com" not in result.stdout
    assert "was due Mon 23 Nov 06:00" in result.stdout  # in Max's time


def test_escalation_reaches_manager_then_channel_and_never_repeats(
    env: dict[str, str], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    load(env, tmp_path, "L4,Jane Doe,Acme,website,rita@example.com,90,2026-11-20T16:00,,")
    run(env, "scan", "--at", "2026-11-23T12:01-05:00")  # breach: Rita
    run(env, "scan", "--at", "2026-11-23T16:01-05:00")  # +4 business hours: Max, the manager
    [to_manager] = dm(fake_slack, "U0MAX")
    assert "escalated to you" in to_manager["text"] and "rita@example.com" in to_manager["text"]
    assert fake_slack.posts_in("C0STANDUP") == []
    run(env, "scan", "--at", "2026-11-24T12:01-05:00")  # +1 business day: the channel
    [to_channel] = fake_slack.posts_in("C0STANDUP")
    assert "Acme" in blocks_text(to_channel)
    assert not any(b["type"] == "actions" for b in to_channel["blocks"])
    run(env, "scan", "--at", "2026-11-24T15:00-05:00")
    # the rep heard of the breach once; the one other DM is the next rule coming due
    first, second = dm(fake_slack, "U0RITA")
    assert "first touch was due Mon 23 Nov 12:00" in blocks_text(first)
    assert "accept or recycle due Tue 24 Nov 16:00" in blocks_text(second)
    assert len(dm(fake_slack, "U0MAX")) == 1 and len(fake_slack.posts_in("C0STANDUP")) == 1


def test_nobody_is_pinged_on_a_weekend(
    env: dict[str, str], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    # assigned Thursday 16:00: due Friday 12:00, the manager's turn Friday 16:00
    load(env, tmp_path, "L5,Jane Doe,Acme,website,rita@example.com,90,2026-11-19T16:00,,")
    result = run(env, "scan", "--at", "2026-11-20T12:30-05:00", "--dry-run")
    assert "DM to rita@example.com" in result.stdout  # the dry run prints, and sends nothing
    assert fake_slack.calls_to("chat.postMessage") == []
    # the clock was down all Friday; on Saturday it finds the escalation but keeps it
    result = run(env, "scan", "--at", "2026-11-21T12:00-05:00")
    assert "Nobody needs to be told" in result.stdout and "wait for working hours" in result.stdout
    assert fake_slack.calls_to("chat.postMessage") == []
    run(env, "scan", "--at", "2026-11-23T09:30-05:00")  # Monday morning: Max hears of it
    [to_manager] = dm(fake_slack, "U0MAX")
    assert "Acme" in to_manager["text"]


# -- exactly once, at scale, through faults and a crash --------------------------------------
REPS = 1000


def many_reps(tmp_path: Path, env: dict[str, str], fake: FakeSlack) -> None:
    lines = [replaying(EXAMPLE.read_text()).split("[[reps]]")[0]]
    for n in range(REPS):
        email = f"rep{n:04d}@example.com"
        fake.users_by_email[email] = f"U{n:06d}"
        lines.append(f'[[reps]]\nemail = "{email}"\nteam = "na"\nmanager = "max@example.com"\n')
    agreement = tmp_path / "big.toml"
    agreement.write_text("\n".join(lines))
    run(env, "sla", "apply", str(agreement))
    rows = [
        f"B{n},Lead {n},Company {n},website,rep{n:04d}@example.com,{n % 100},2026-11-20T16:00,,"
        for n in range(REPS)
    ]
    load(env, tmp_path, *rows)


def assert_one_dm_each(fake: FakeSlack) -> None:
    for n in range(REPS):
        posts = fake.posts_in(f"D{n:06d}")
        assert len(posts) == 1, (n, posts)
    posted = fake.calls_to("chat.postMessage")
    assert len(posted) == REPS, (
        sorted(Counter(c.body.get("channel") for c in posted).items(), key=lambda kv: -kv[1])[:3],
        [c.body for c in posted if "channel" not in c.body][:3],
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_thousand_reps_get_exactly_one_dm_through_random_429_and_503(
    env: dict[str, str], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    many_reps(tmp_path, env, fake_slack)
    fake_slack.random_fault_rate = 0.01
    result = run(env, "scan", "--at", "2026-11-23T12:01-05:00")
    assert "Delivered 1000 messages" in result.stdout, result.stdout
    assert any(c.status in (429, 503) for c in fake_slack.calls)
    assert_one_dm_each(fake_slack)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_killed_mid_delivery_and_restarted_still_exactly_once(
    env: dict[str, str], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    many_reps(tmp_path, env, fake_slack)
    fake_slack.stall_post_after(300)  # post #301 reaches Slack; its answer never comes back
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "scan", "--at", "2026-11-23T12:01-05:00"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(fake_slack.calls_to("chat.postMessage")) < 301 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()  # SIGKILL: no cleanup, claimed items stay claimed
    process.wait()
    assert 301 <= len(fake_slack.calls_to("chat.postMessage")) < REPS

    result = subprocess.run(  # a new process: the restart itself is what is tested
        [sys.executable, "-m", "bot", "scan", "--at", "2026-11-23T12:02-05:00"],
        env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    # the stalled post (and any other in flight at the kill) is found in Slack, not re-sent
    found = re.search(r"\((\d+) found already in Slack", result.stdout)
    assert found and int(found.group(1)) >= 1, result.stdout
    assert_one_dm_each(fake_slack)


def test_scan_without_an_agreement_says_what_to_do(
    database_url: str, fake_slack: FakeSlack
) -> None:
    env = slabot_env(database_url, fake_slack)
    run(env, "db", "upgrade")
    result = run_slabot("scan", env=env)
    assert result.returncode == 2
    assert "no agreement is in force" in result.stderr
    assert os.linesep not in result.stderr.strip()


def test_a_slack_500_after_posting_leaves_exactly_one_alert(
    env: dict[str, str], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Slack posts the message and answers 500 all the same: slabot does not post it again
    at once (slack_sdk would); the outbox's next try finds it in the DM by its metadata."""
    load(env, tmp_path, "L9,Ada,Initech,website,rita@example.com,70,2026-11-20T16:00,,")
    fake_slack.fail("chat.postMessage", 500, after_doing=True)
    result = run({**env, "SLABOT_RETRY_BASE": "1"}, "scan", "--at", "2026-11-23T12:01-05:00")
    [breach] = dm(fake_slack, "U0RITA")
    assert "past the SLA" in breach["text"]
    posts = [c for c in fake_slack.calls if c.method == "chat.postMessage"]
    assert [c.status for c in posts] == [500]  # tried once; the retry looked and found it
    assert fake_slack.calls_to("conversations.history")
    assert "1 found already in Slack" in result.stdout, result.stdout


MANAGED_FROM_BERLIN = """
[agreement]
name = "SLA"
effective = "2026-07-01"

[calendar]
timezone = "America/New_York"
workdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
hours = "00:00-23:59:59.999999"

[sales]
first_touch = "1h"
escalate_manager_after = "1h"
escalate_channel_after = "10bd"

[[teams]]
name = "emea"
channel = "C0EMEA"
timezone = "Europe/Berlin"

[[reps]]
email = "ana@example.com"
team = "emea"
manager = "boss@example.com"
"""


def test_a_manager_who_is_no_rep_reads_in_the_calendar_they_are_told_in(
    engine: Engine, tmp_path: Path
) -> None:
    """The manager of a Berlin team is told in Berlin's hours, and reads the message on Berlin's
    date: at 23:30 UTC on the 24th it is already the 25th there (New York: still the 24th)."""
    from datetime import UTC, date, datetime

    from bot.intake.csv_import import import_csv
    from bot.services.agreements import apply_agreement
    from bot.services.alerts import scan
    from bot.slack.render import Renderer

    now = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    apply_agreement(engine, replaying(MANAGED_FROM_BERLIN), now=now)
    path = tmp_path / "leads.csv"
    path.write_text("lead_id,owner_email,assigned_at\nB1,ana@example.com,2026-11-24T20:00:00Z\n")
    import_csv(engine, path, now=now)
    result = scan(engine, Renderer(), now=now, dry_run=True)
    [manager] = [message for message in result.messages if message.kind == "sla_manager"]
    assert (manager.audience, manager.day) == ("boss@example.com", date(2026, 11, 25))


def test_a_token_outage_pauses_delivery_and_every_alert_goes_out_after_it(
    env: dict[str, str], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Slack answers `invalid_auth` to everything for a while: delivery pauses (nothing fails,
    `/healthz` answers 503 and says why, `slabot status` says so), and once Slack accepts the
    token again every one of the 8 breached leads is told."""
    import httpx

    from tests.conftest import start_app, stop_server

    env = {**env, "SLABOT_RETRY_BASE": "1"}
    load(env, tmp_path, *(f"T{n},Lead {n},Co {n},website,rita@example.com,80,"
                          "2026-11-23T09:00,," for n in range(1, 9)))  # fmt: skip
    fake_slack.refusing = "invalid_auth"
    run(env, "scan", "--at", "2026-11-23T15:00-05:00")
    server = start_app(env, tmp_path / "serve.log")
    try:
        health = httpx.get(server.url + "/healthz", timeout=10)
        assert health.status_code == 503
        assert health.json()["slack"]["paused"] == "invalid_auth"
        status = run(env, "status").stdout
        assert "Slack delivery is PAUSED" in status and "invalid_auth" in status
        assert dm(fake_slack, "U0RITA") == []
        fake_slack.refusing = None  # the token works again (reinstalled)
        time.sleep(1.1)
        run(env, "scan", "--at", "2026-11-23T15:01-05:00")
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
    finally:
        stop_server(server)
    told = " ".join(blocks_text(message) for message in dm(fake_slack, "U0RITA"))
    assert all(f"Lead {n}" in told for n in range(1, 9)), told
    engine = engine_for(env["DATABASE_URL"])
    with engine.connect() as connection:
        statuses = dict(connection.execute(text(
            "SELECT status, count(*) FROM outbox GROUP BY status")).all())  # fmt: skip
    engine.dispose()
    assert "failed" not in statuses and "pending" not in statuses, statuses


def test_a_recipient_slack_refuses_fails_alone_and_status_says_what_to_do(
    env: dict[str, str], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Sam has left the workspace (`users_not_found`): his alert fails, Rita's still goes out,
    and `slabot status` names him with what to set."""
    del fake_slack.users_by_email["sam@example.com"]
    load(env, tmp_path, "S1,Sue,Co S,website,sam@example.com,80,2026-11-23T09:00,,",
         "R1,Rob,Co R,website,rita@example.com,80,2026-11-23T09:00,,")  # fmt: skip
    run(env, "scan", "--at", "2026-11-24T10:00-05:00")  # 16:00 in Berlin: both are at work
    assert "Rob" in blocks_text(dm(fake_slack, "U0RITA")[0])
    status = run(env, "status").stdout
    assert "sam@example.com: users_not_found (1 message)" in status, status
    assert 'set `slack = "U…"` on the rep' in status
    assert "PAUSED" not in status


def test_a_newer_list_replaces_an_unsent_older_one(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    """Two scans queue Rita a list each before anything is sent (Slack slow, a busy clock):
    only the newer goes out, holding both leads; nobody receives the stale one."""
    from datetime import UTC, datetime

    from bot.flows.delivery import sender
    from bot.intake.csv_import import import_csv
    from bot.services.agreements import apply_agreement
    from bot.services.alerts import scan
    from bot.settings import Settings
    from bot.slack.render import Renderer

    agreement = replaying(EXAMPLE.read_text())
    apply_agreement(engine, agreement, now=datetime(2026, 11, 23, 14, tzinfo=UTC))
    for name, assigned, hour in (
        ("First", "2026-11-23T09:00", 19),
        ("Second", "2026-11-23T10:00", 20),
    ):
        path = tmp_path / f"{name}.csv"  # breached at 13:00 and 14:00 New York; scans at 14, 15
        path.write_text(f"{HEADER}\n{name},{name} Lead,Co,website,rita@example.com,80,"
                        f"{assigned},,\n")  # fmt: skip
        import_csv(engine, path)
        scan(engine, Renderer(), now=datetime(2026, 11, 23, hour, 5, tzinfo=UTC))
    env = slabot_env(engine.url.render_as_string(hide_password=False), fake_slack)
    settings = Settings(**{k: v for k, v in env.items() if k.startswith(("SLACK_", "DATABASE"))})
    sender(engine, settings).deliver()
    [sent] = dm(fake_slack, "U0RITA")
    assert "First Lead" in blocks_text(sent) and "Second Lead" in blocks_text(sent)
