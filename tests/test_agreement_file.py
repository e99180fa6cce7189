"""The agreement file: the issue's example applies unchanged; errors name the key and line;
versions never rewrite the past."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.domain.agreement_file import AgreementFileError, key_lines, parse_agreement
from bot.services.agreements import apply_agreement
from storage.agreements import agreement_in_force
from tests.cli_runner import Ran, run_slabot

EXAMPLE = Path(__file__).parent.parent / "examples" / "sla.toml"
NOV_23 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_the_example_parses_with_every_value() -> None:
    agreement = parse_agreement(EXAMPLE.read_text())
    assert agreement.marketing.mql_target == 3900 and agreement.sales.first_touch == "4h"
    assert agreement.funnel.sources["outbound"].win == 0.18
    assert [rep.timezone for rep in agreement.reps] == [None, "Europe/Berlin"]
    assert agreement.calendar.closed == [date(2026, 12, 24), date(2026, 12, 31)]


@pytest.mark.parametrize(
    ("change", "line", "key", "message"),
    [
        (
            ('first_touch = "4h"', 'first_touch = "4 hours"'),
            25,
            "sales.first_touch",
            "is not a duration",
        ),
        (("tolerance = 0.10", "tolerence = 0.10"), 5, "agreement.tolerence", "not a known key"),
        (
            ('timezone = "Europe/Berlin"', 'timezone = "Europe/Berln"'),
            58,
            "reps[1].timezone",
            "not an IANA timezone",
        ),
        (("website = 0.6", "website = 0.7"), 20, "marketing.sources", "must add up to 1"),
        (('team = "na"\nmanager', 'team = "emea"\nmanager'), None, "", "names team 'emea'"),
        (('holidays = "US"', 'holidays = "XX"'), 13, "calendar.holidays", "is not a country"),
        (("win = 0.23", "win = 23"), 35, "funnel.win", "less than or equal to 1"),
    ],
)
def test_errors_name_the_key_and_the_line(change, line, key, message) -> None:  # type: ignore[no-untyped-def]
    text = EXAMPLE.read_text().replace(*change, 1)
    with pytest.raises(AgreementFileError) as raised:
        parse_agreement(text)
    problem = raised.value.problems[0]
    assert (problem.line, problem.key) == (line, key) and message in problem.message


def test_crm_sections_are_checked_against_the_crms_slabot_reads() -> None:
    """The agreement's schema names no CRM: a section for one slabot does not read, or
    statuses under the other CRM's key, is refused with its line when applied."""
    from bot.intake.registry import crm_problems

    text = EXAMPLE.read_text() + (
        '\n[crm.zoho]\nrecord_url = "https://z/{id}"\n\n[crm.hubspot.statuses]\n"NEW" = "mql"\n'
    )
    parse_agreement(text)  # the file alone is well formed
    with pytest.raises(AgreementFileError) as raised:
        parse_agreement(text, crm_problems)
    lines = len(EXAMPLE.read_text().splitlines())
    assert [(p.line, p.key, p.message) for p in raised.value.problems] == [
        (lines + 2, "crm.zoho", "slabot reads no CRM named 'zoho' (one of hubspot, salesforce)"),
        (lines + 5, "crm.hubspot.statuses",
         "HubSpot's lead statuses go under [crm.hubspot.lead_statuses]"),
    ]  # fmt: skip


def test_toml_syntax_errors_give_the_line() -> None:
    with pytest.raises(AgreementFileError, match="line 2"):
        parse_agreement('[agreement]\nname = "unterminated\n')


def test_key_lines_numbers_arrays_of_tables() -> None:
    lines = key_lines(EXAMPLE.read_text())
    assert lines[("reps", 1, "timezone")] == 58 and lines[("teams", 0, "channel")] == 45


def test_new_version_never_rewrites_the_past(engine: Engine) -> None:
    text = EXAMPLE.read_text()
    first = apply_agreement(engine, text, now=NOV_23)
    assert (first.version, first.in_force_from, first.created) == (1, date(2026, 7, 1), True)
    again = apply_agreement(engine, text, now=NOV_23)
    assert (again.version, again.created) == (1, False)  # nothing changed, nothing stored
    second = apply_agreement(
        engine, text.replace("mql_target = 3900", "mql_target = 4200"), now=NOV_23
    )
    assert second.version == 2 and second.in_force_from == date(2026, 11, 1)
    assert second.changes == [("marketing.mql_target", 3900, 4200)]
    assert agreement_in_force(engine, on=date(2026, 10, 31)).marketing.mql_target == 3900
    assert agreement_in_force(engine, on=date(2026, 11, 2)).marketing.mql_target == 4200
    in_force = agreement_in_force(engine, on=date(2026, 11, 2))
    assert [team.name for team in in_force.teams] == ["na"]
    reps = {rep.email: rep for rep in in_force.reps}
    assert reps["sam@example.com"].timezone == "Europe/Berlin"
    assert reps["rita@example.com"].manager == "max@example.com"


def slabot(*args: str, cwd: Path) -> Ran:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{cwd}/x.db", "COLUMNS": "200"}
    return run_slabot(*args, env=env, cwd=cwd)


def test_cli_apply_show_and_errors(tmp_path: Path) -> None:
    (tmp_path / "sla.toml").write_text(EXAMPLE.read_text())
    applied = slabot("sla", "apply", cwd=tmp_path)  # SLABOT_CONFIG defaults to ./sla.toml
    assert applied.returncode == 0 and "Stored version 1" in applied.stdout
    shown = slabot("sla", "show", "--date", "2026-11-20", cwd=tmp_path)
    assert (
        "MQL target  3,900 per month" in shown.stdout and "website    60% (2,340)" in shown.stdout
    )
    (tmp_path / "bad.toml").write_text(
        EXAMPLE.read_text().replace('hours = "09:00-17:00"', 'hours = "17:00-09:00"', 1)
    )
    bad = slabot("sla", "apply", str(tmp_path / "bad.toml"), cwd=tmp_path)
    assert bad.returncode == 2
    assert (
        f"{tmp_path / 'bad.toml'}:12: calendar.hours: hours must start before they end"
        in bad.stderr
    )
