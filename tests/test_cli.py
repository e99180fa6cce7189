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
