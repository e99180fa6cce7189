"""The `slabot` command line, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.settings import Settings
from storage.db import make_engine
from storage.migrate import current_revision, head_revision
from tests.cli_runner import Ran, run_slabot
from tests.conftest import free_port, seed_agreement


def slabot(*args: str, db: Path, **env: str) -> Ran:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SLABOT_"))}
    clean.update({"DATABASE_URL": f"sqlite:///{db}", "COLUMNS": "200", **env})
    return run_slabot(*args, env=clean)


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = slabot("--help", db=tmp_path / "x.db")
    assert result.returncode == 0
    for command in ("serve", "run", "quota", "db"):
        assert command in result.stdout


def test_quota_prints_the_worked_example(tmp_path: Path) -> None:
    result = slabot(
        "quota", "500k", "aov=2k", "win=23%", "sql2opp=82%", "mql2sql=34%", db=tmp_path / "x.db"
    )
    assert result.returncode == 0, result.stderr
    rows = [
        line.strip().rsplit(None, 1)
        for line in result.stdout.splitlines()
        if line.startswith("  ") and "(" not in line
    ]
    lines = {label.strip(): value for label, value in rows}
    assert lines == {
        "Deals": "250",
        "Opportunities": "1,087",
        "SQLs": "1,326",
        "MQLs": "3,900",
        "Value per MQL": "$128",
    }


def test_quota_uses_the_stored_agreement(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    engine = make_engine(f"sqlite:///{db}")
    from storage.migrate import upgrade

    upgrade(engine)
    seed_agreement(engine)
    result = slabot("quota", "source=outbound", db=db)
    assert result.returncode == 0, result.stderr
    assert "5,647" in result.stdout and "From Marketing & Sales SLA, H2" in result.stdout


def test_bad_quota_input_exits_non_zero_with_the_reason_and_grammar(tmp_path: Path) -> None:
    result = slabot("quota", "500k", "win=23", db=tmp_path / "x.db")
    assert result.returncode == 2
    assert "did you mean 23%?" in result.stderr
    assert "Example: /quota 500k aov=2k win=23% sql2opp=82% mql2sql=34%" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_migrates_and_reports(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    first = slabot("db", "upgrade", db=db)
    assert first.returncode == 0 and "upgraded from empty" in first.stdout
    again = slabot("db", "upgrade", db=db)
    assert "already at revision" in again.stdout
    engine = make_engine(Settings(DATABASE_URL=f"sqlite:///{db}").database_url)
    assert current_revision(engine) == head_revision(engine)


def test_run_without_app_token_names_it(tmp_path: Path) -> None:
    result = slabot("run", db=tmp_path / "x.db", SLACK_BOT_TOKEN="xoxb-x")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "SLACK_APP_TOKEN" in result.stderr


BAD_INPUT = [
    (("db", "upgrade", "nosuchrev"), "cannot upgrade to 'nosuchrev'"),
    (("import", "no-such-file.csv"), "no such file: no-such-file.csv"),
    (("import", "--format", "excel", "x.csv"), "--format must be one of"),
    (("sla", "apply", "no-such.toml"), "cannot read the agreement file no-such.toml"),
    (("schedule", "--from", "2026-13-01"), "'2026-13-01' is not a date"),
    (("quota", "quota=1M", "500k"), "quota"),
    (("schedule", "--days", "x"), "Invalid value for '--days'"),
]


def test_every_bad_input_exits_2_with_what_was_wrong_and_no_traceback(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    seed_agreement(_upgraded(db))
    for args, expected in BAD_INPUT:
        result = slabot(*args, db=db)
        said = result.stdout + result.stderr
        assert result.returncode == 2, (args, said)
        assert expected in said, (args, said)
        assert "Traceback" not in said, (args, said)


def _upgraded(db: Path):  # type: ignore[no-untyped-def]
    from storage.migrate import upgrade

    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    return engine


def test_an_import_with_rejected_rows_keeps_the_good_ones_and_exits_1(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    seed_agreement(_upgraded(db))
    path = tmp_path / "leads.csv"
    path.write_text(
        "lead_id,company,source,mql_at\n"
        "G1,Good Co,website,2026-11-02T10:00\n"
        "B1,Bad Co,website,2026-13-45\n"
        "G2,Fine Co,website,2026-11-02T11:00\n"
    )
    result = slabot("import", str(path), db=db)
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    assert "2 inserted" in said and "1 rejected" in said, said
    assert "line 3" in said, said  # the bad row, by its line in the file
    assert "Traceback" not in said


def test_init_writes_a_starter_agreement_that_applies_and_prints_the_manifest(
    tmp_path: Path,
) -> None:
    db, path = tmp_path / "x.db", tmp_path / "sla.toml"
    result = slabot("init", str(path), db=db)
    assert result.returncode == 0, result.stderr
    assert "display_information" in result.stdout and "/quota" in result.stdout
    assert "sla apply" in result.stderr
    applied = slabot("sla", "apply", str(path), db=db)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = slabot("init", str(path), db=db)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_a_platform_host_without_database_url_refuses_in_one_line(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SLABOT_"))}
    clean.pop("DATABASE_URL", None)
    for args in (("db", "upgrade"), ("serve",), ("clock",), ("status",)):
        result = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            env={
                **clean,
                "DYNO": "web.1",
                "SLACK_BOT_TOKEN": "xoxb-x",
                "SLACK_SIGNING_SECRET": "s",
            },
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        said = result.stdout + result.stderr
        assert result.returncode == 2, (args, said)
        assert "DATABASE_URL is not set on this platform host" in said, (args, said)
        assert len(said.strip().splitlines()) == 1 and "Traceback" not in said, (args, said)
    assert not list(tmp_path.iterdir())  # no SQLite file left behind


def test_status_says_slack_cannot_be_reached_instead_of_a_traceback(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    engine = make_engine(f"sqlite:///{db}")
    from storage.migrate import upgrade

    upgrade(engine)
    seed_agreement(engine)
    closed = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    result = slabot("status", db=db, SLACK_BOT_TOKEN="xoxb-1-2-3", SLACK_API_URL=closed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "Slack could not be reached" in result.stdout


def test_schedule_gives_the_utc_date_where_it_differs(tmp_path: Path) -> None:
    """Sydney's 08:45 stand-up on Monday 7 December is Sunday's 21:45 UTC (AEDT, UTC+11)."""
    db = tmp_path / "x.db"
    path = tmp_path / "sla.toml"
    path.write_text(
        '[agreement]\nname = "SLA"\neffective = "2026-07-01"\n\n[calendar]\n'
        'timezone = "Australia/Sydney"\nholidays = "AU-NSW"\n\n[[teams]]\nname = "anz"\n'
        'channel = "C0ANZ"\nstandup = "08:45"\n'
    )
    assert slabot("sla", "apply", str(path), db=db).returncode == 0
    result = slabot("schedule", "--days", "1", "--from", "2026-12-07", db=db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "2026-12-07 Mon  anz: 08:45 AEDT (Australia/Sydney) = 2026-12-06 21:45 UTC → C0ANZ"
    )


def test_version(tmp_path: Path) -> None:
    from importlib import metadata

    result = slabot("--version", db=tmp_path / "x.db")
    assert result.returncode == 0
    assert result.stdout.strip() == f"slabot {metadata.version('slabot')}"


def test_the_starter_applies_with_a_warning_for_each_placeholder(tmp_path: Path) -> None:
    db, path = tmp_path / "x.db", tmp_path / "sla.toml"
    slabot("init", str(path), db=db)
    applied = slabot("sla", "apply", str(path), db=db)
    assert applied.returncode == 0, applied.stderr
    assert "Stored version 1" in applied.stdout
    warnings = [line for line in applied.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2, applied.stderr
    assert 'channel "C0STANDUP" is the starter\'s placeholder' in warnings[0]
    assert "3 people at a placeholder domain" in warnings[1]  # rita, sam and max


def test_check_validates_and_shows_the_change_and_stores_nothing(tmp_path: Path) -> None:
    db, path = tmp_path / "x.db", tmp_path / "sla.toml"
    example = (Path(__file__).resolve().parent.parent / "examples" / "sla.toml").read_text()
    path.write_text(example)
    first = slabot("sla", "apply", "--check", str(path), db=db)
    assert first.returncode == 0, first.stderr
    assert "Valid. Applying it would store version 1, the first." in first.stdout
    assert slabot("sla", "show", db=db).returncode == 2  # nothing was stored
    assert slabot("sla", "apply", str(path), db=db).returncode == 0
    path.write_text(example.replace("mql_target = 3900", "mql_target = 4200"))
    changed = slabot("sla", "apply", "--check", str(path), db=db)
    assert changed.returncode == 0
    assert "would store version 2; against version 1 it changes:" in changed.stdout
    assert "marketing.mql_target: 3900 → 4200" in changed.stdout
    assert "version 1" in slabot("sla", "show", db=db).stdout
    path.write_text(example.replace('first_touch = "4h"', 'first_touch = "soon"'))
    invalid = slabot("sla", "apply", "--check", str(path), db=db)
    assert invalid.returncode == 1 and "sales.first_touch" in invalid.stderr


def test_an_agreement_piped_in_is_applied(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    example = (Path(__file__).resolve().parent.parent / "examples" / "sla.toml").read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SLABOT_"))}
    env["DATABASE_URL"] = f"sqlite:///{db}"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "sla", "apply", "-"],
        input=example,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Stored version 1" in result.stdout


def test_a_channel_written_by_name_is_looked_up_or_refused(tmp_path: Path) -> None:
    from tests.fake_slack import BOT_TOKEN, FakeSlack

    db, path = tmp_path / "x.db", tmp_path / "sla.toml"
    example = (Path(__file__).resolve().parent.parent / "examples" / "sla.toml").read_text()
    path.write_text(example.replace('channel = "C0STANDUP"', 'channel = "#sales-standup"'))
    refused = slabot("sla", "apply", str(path), db=db)
    assert refused.returncode == 2
    assert "'#sales-standup' is not a channel id" in refused.stderr
    assert "Traceback" not in refused.stderr

    fake = FakeSlack(
        channels={
            "C0GENERAL": {"name": "general", "is_private": False, "is_member": True},
            "C0RANDOM": {"name": "random", "is_private": False, "is_member": False},
            "C0SALES1": {"name": "sales-standup", "is_private": True, "is_member": True},
        }
    ).start()
    try:
        slack = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": fake.api_url}
        applied = slabot("sla", "apply", str(path), db=db, **slack)
        assert applied.returncode == 0, applied.stderr
        assert "#sales-standup is C0SALES1" in applied.stderr
        shown = slabot("sla", "show", db=db)
        assert "C0SALES1" in shown.stdout
        assert len(fake.calls_to("conversations.list")) == 2  # two pages, the name on the 2nd
        path.write_text(example.replace('channel = "C0STANDUP"', 'channel = "#nowhere"'))
        missing = slabot("sla", "apply", str(path), db=db, **slack)
        assert missing.returncode == 2 and "no channel #nowhere that the app can see" in (
            missing.stderr
        )
    finally:
        fake.stop()


def test_init_prints_a_manifest_ready_to_paste_for_a_url_or_socket_mode(tmp_path: Path) -> None:
    import yaml

    db = tmp_path / "x.db"
    served = slabot("init", str(tmp_path / "a.toml"), "--url", "https://sla.acme.io/", db=db)
    assert served.returncode == 0, served.stderr
    manifest = yaml.safe_load(served.stdout)
    urls = [command["url"] for command in manifest["features"]["slash_commands"]]
    urls += [manifest["settings"][key]["request_url"]
             for key in ("event_subscriptions", "interactivity")]  # fmt: skip
    assert urls == ["https://sla.acme.io/slack/events"] * 5
    assert manifest["settings"]["socket_mode_enabled"] is False

    socket = slabot("init", str(tmp_path / "b.toml"), "--socket", db=db)
    manifest = yaml.safe_load(socket.stdout)
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "example.com" not in socket.stdout.split("settings:")[0].split("features:")[1]
    assert all("url" not in command for command in manifest["features"]["slash_commands"])
    assert "request_url" not in manifest["settings"]["event_subscriptions"]
    assert manifest["settings"]["event_subscriptions"]["bot_events"]  # events still come

    plain = slabot("init", str(tmp_path / "c.toml"), "--url", "http://sla.acme.io", db=db)
    assert plain.returncode == 2 and "https://" in plain.stderr


def test_an_import_names_the_sources_outside_the_split(tmp_path: Path) -> None:
    db, leads = tmp_path / "x.db", tmp_path / "leads.csv"
    example = Path(__file__).resolve().parent.parent / "examples" / "sla.toml"
    assert slabot("sla", "apply", str(example), db=db).returncode == 0
    leads.write_text(
        "lead_id,owner_email,source,mql_at\n"
        "A,rita@example.com,website,2026-11-20T10:00\n"
        "B,rita@example.com,Organic Search,2026-11-20T10:00\n"
        "C,sam@example.com,Organic Search,2026-11-20T10:00\n"
        "D,sam@example.com,,2026-11-20T10:00\n"
    )
    result = slabot("import", str(leads), db=db)
    assert result.returncode == 0, result.stderr
    assert "3 leads from sources outside the agreement's MQL split (website, outbound)" in (
        result.stdout
    )
    assert '"organic_search" (2): add it to [marketing.sources].' in result.stdout
    assert '"(no source)" (1)' in result.stdout


def test_init_for_a_crm_splits_the_target_by_that_crm_s_own_sources(tmp_path: Path) -> None:
    """A HubSpot export's Original Source labels land in the starter's split, not in "other
    sources"."""
    db, path, leads = tmp_path / "x.db", tmp_path / "sla.toml", tmp_path / "hubspot.csv"
    assert slabot("init", str(path), "--crm", "hubspot", db=db).returncode == 0
    assert slabot("sla", "apply", str(path), db=db).returncode == 0
    leads.write_text(
        "Record ID,First Name,Contact owner,Lifecycle Stage,Original Source,"
        "Became a Marketing Qualified Lead Date\n"
        "101,Ann,rita@example.com,Marketing Qualified Lead,Organic Search,2026-11-20 10:00\n"
        "102,Bob,rita@example.com,Marketing Qualified Lead,Paid Search,2026-11-20 11:00\n"
    )
    result = slabot("import", str(leads), db=db)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outside the agreement's MQL split" not in result.stdout
    wrong = slabot("init", str(tmp_path / "other.toml"), "--crm", "pipedrive", db=db)
    assert wrong.returncode == 2 and "hubspot | salesforce" in wrong.stderr


def test_export_writes_the_newest_version_with_the_changes_made_in_slack(tmp_path: Path) -> None:
    """An out-of-office set in Slack is in the exported file, beside the file's own comments,
    and applying the export again stores nothing: the file is the record."""
    from datetime import UTC, date, datetime

    from bot.services.agreement_edits import set_out_of_office

    db, exported = tmp_path / "x.db", tmp_path / "exported.toml"
    example = Path(__file__).resolve().parent.parent / "examples" / "sla.toml"
    assert slabot("sla", "apply", str(example), db=db).returncode == 0
    engine = make_engine(f"sqlite:///{db}")
    days = [date(2026, 12, 28), date(2026, 12, 29)]
    set_out_of_office(engine, "rita@example.com", days, by="test", now=datetime.now(UTC))
    engine.dispose()
    assert slabot("sla", "export", str(exported), db=db).returncode == 0
    text = exported.read_text()
    assert "out_of_office = [2026-12-28, 2026-12-29]" in text
    assert "# business hours from assignment to first touch" in text
    again = slabot("sla", "apply", "--check", str(exported), db=db)
    assert "the same as version 2: applying it would store nothing" in again.stdout
    printed = slabot("sla", "export", db=db)
    assert printed.stdout == text


def test_help_shows_flags_as_flags(tmp_path: Path) -> None:
    """A flag takes no value, so its help shows none (typer's rich help printed `<bool>`)."""
    result = slabot("import", "--help", db=tmp_path / "x.db")
    assert result.returncode == 0
    strict = next(line for line in result.stdout.splitlines() if "--strict" in line)
    assert "<bool>" not in result.stdout and "Any rejected row" in strict
