"""`slabot doctor` against the Slack stand-in: each problem a new admin meets is named with what
to do, exit 1; an installation that can do its job says so, exit 0."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage import clock
from storage.db import make_engine
from tests.cli_runner import Ran, run_slabot
from tests.fake_slack import BOT_TOKEN, MANIFEST_SCOPES, FakeSlack

AGREEMENT = """
[agreement]
name = "Acme SLA"
effective = 2026-07-01

[[teams]]
name = "na"
channel = "C0TEAM1"

[[teams]]
name = "emea"
channel = "C0TEAM2"

[[reps]]
email = "rita@acme.io"
team = "na"
manager = "max@acme.io"

[[reps]]
email = "ana@acme.io"
team = "emea"
manager = "max@acme.io"
"""
PEOPLE = {"rita@acme.io": "U0RITA", "ana@acme.io": "U0ANA", "max@acme.io": "U0MAX"}


def doctor(tmp_path: Path, fake: FakeSlack, agreement: str, beat_ago: timedelta | None) -> Ran:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SLABOT_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_API_URL=fake.api_url,
        COLUMNS="200",
    )
    (tmp_path / "sla.toml").write_text(agreement)
    assert run_slabot("sla", "apply", str(tmp_path / "sla.toml"), env=env).returncode == 0
    if beat_ago is not None:
        engine = make_engine(env["DATABASE_URL"])
        with engine.begin() as connection:
            clock.beat(connection, every_s=10, now=datetime.now(UTC) - beat_ago)
        engine.dispose()
    return run_slabot("doctor", env=env)


def test_an_installation_that_can_do_its_job_is_all_well(tmp_path: Path) -> None:
    channels = {
        "C0TEAM1": {"name": "sales-na", "is_private": False, "is_member": True},
        "C0TEAM2": {"name": "sales-emea", "is_private": True, "is_member": True},
    }
    fake = FakeSlack(users_by_email=dict(PEOPLE), channels=channels).start()
    try:
        result = doctor(tmp_path, fake, AGREEMENT, beat_ago=timedelta(seconds=5))
    finally:
        fake.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("✓") == 9 and "✗" not in result.stdout
    assert "All well" in result.stdout
    assert f"all {len(MANIFEST_SCOPES)} the manifest asks for" in result.stdout
    assert "all 3 reps and managers found in Slack" in result.stdout


def test_each_problem_is_named_with_what_to_do(tmp_path: Path) -> None:
    channels = {
        "C0TEAM1": {"name": "sales-na", "is_private": False, "is_member": True},
        "C0TEAM2": {"name": "sales-emea", "is_private": True, "is_member": False},
    }
    people = {email: user for email, user in PEOPLE.items() if email != "ana@acme.io"}
    fake = FakeSlack(users_by_email=people, channels=channels).start()
    fake.scopes = [scope for scope in MANIFEST_SCOPES if scope != "users:read.email"]
    try:
        result = doctor(tmp_path, fake, AGREEMENT, beat_ago=timedelta(minutes=10))
    finally:
        fake.stop()
    assert result.returncode == 1, result.stdout + result.stderr
    problems = [line for line in result.stdout.splitlines() if line.startswith("✗")]
    assert len(problems) == 4, result.stdout  # no lead is loaded: no owner line
    scopes, channel, people_line, silent = (
        next(line for line in problems if line.split()[1] == area)
        for area in ("scopes", "channel", "people", "clock")
    )
    assert "missing users:read.email" in scopes and "reinstall the app" in scopes
    assert "team emea" in channel and "invite the app" in channel
    assert "1 of 3 not in Slack by that email: ana@acme.io" in people_line
    assert "silent for 10 min" in silent
    assert "4 problems to fix" in result.stdout


def test_leads_with_no_owner_at_all_are_named_apart_from_unmatched_owners(
    tmp_path: Path,
) -> None:
    from bot.intake.csv_import import import_csv

    channels = {
        "C0TEAM1": {"name": "sales-na", "is_private": False, "is_member": True},
        "C0TEAM2": {"name": "sales-emea", "is_private": False, "is_member": True},
    }
    fake = FakeSlack(users_by_email=dict(PEOPLE), channels=channels).start()
    export = tmp_path / "hubspot.csv"
    export.write_text(
        "Record ID,First Name,Contact owner,Lifecycle Stage,"
        "Became a Marketing Qualified Lead Date\n"
        "301,Ann,Dana Reyes,Marketing Qualified Lead,2026-11-30 10:00\n"
        "302,Bob,,Marketing Qualified Lead,2026-11-30 11:00\n"
        "303,Cy,,Marketing Qualified Lead,2026-11-30 12:00\n"
    )
    try:
        (tmp_path / "sla.toml").write_text(AGREEMENT)
        env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
        assert run_slabot("db", "upgrade", env={**os.environ, **env}).returncode == 0
        engine = make_engine(env["DATABASE_URL"])
        from bot.services.agreements import apply_agreement

        apply_agreement(engine, AGREEMENT)
        import_csv(engine, export)
        engine.dispose()
        result = doctor(tmp_path, fake, AGREEMENT, beat_ago=timedelta(seconds=5))
    finally:
        fake.stop()
    assert result.returncode == 1
    assert "1 lead has an owner nobody matches — Dana Reyes (1 on hubspot)" in result.stdout
    assert "2 leads with no owner in the CRM at all: assign them there" in result.stdout
