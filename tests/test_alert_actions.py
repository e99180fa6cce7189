"""The alert's buttons, the recycle modal and `/sla`, as Slack sends them: signed requests into
a running `slabot serve`, the DM delivered by a real scan, the redraw seen by the stand-in."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.settings import Settings
from storage.db import make_engine
from tests.conftest import (
    RunningServer,
    engine_for,
    replaying,
    slabot_env,
    start_app,
    stop_server,
)
from tests.fake_slack import FakeSlack
from tests.signing import (
    block_action_body,
    signed_headers,
    slash_command_body,
    view_submission_body,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sla.toml"
# Buttons act at the real time, so this office never closes and the leads were assigned six
# hours ago: their 4h first touch is breached whenever the test runs, nothing else is due.
ALWAYS_OPEN = """[calendar]
timezone = "America/New_York"
workdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
hours = "00:00-23:59:59.999999"
holidays = ""
"""
ASSIGNED = (datetime.now(UTC) - timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
LEADS = f"""lead_id,name,company,source,owner_email,score,assigned_at
A1,Jane Doe,Acme,website,rita@example.com,90,{ASSIGNED}
A2,Bob Roe,Globex,outbound,rita@example.com,70,{ASSIGNED}
A3,Cy Poe,Initech,website,rita@example.com,60,{ASSIGNED}
"""


def always_open_agreement(folder: Path) -> Path:
    text = EXAMPLE.read_text()
    start, end = text.index("[calendar]"), text.index("[marketing]")
    path = folder / "sla.toml"
    path.write_text(replaying(text[:start] + ALWAYS_OPEN + "\n" + text[end:]))
    return path


@pytest.fixture
def app(
    tmp_path: Path, fake_slack: FakeSlack, database_url: str
) -> Iterator[tuple[RunningServer, dict]]:
    """The agreement applied, the leads imported and a scan delivered (in this process, as the
    CLI would), then `slabot serve` on the same database."""
    from bot.flows.alerts import scan_and_deliver
    from bot.intake.csv_import import import_csv
    from bot.services.agreements import apply_agreement
    from bot.slack.render import Renderer
    from storage.migrate import upgrade

    env = slabot_env(database_url, fake_slack, SLABOT_ADMINS="U0ADMIN")
    (tmp_path / "leads.csv").write_text(LEADS)
    engine = engine_for(database_url)
    upgrade(engine)
    apply_agreement(engine, always_open_agreement(tmp_path).read_text(), applied_by="test")
    import_csv(engine, tmp_path / "leads.csv", rejects_path=tmp_path / "rejects.csv")
    settings = Settings(**{k: v for k, v in env.items() if k.startswith(("SLACK_", "DATABASE"))})
    scan_and_deliver(engine, Renderer(), settings, now=datetime.now(UTC))
    engine.dispose()
    server = start_app(env, tmp_path / "serve.log")
    yield server, env
    stop_server(server)
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def the_dm(fake: FakeSlack) -> tuple[str, dict]:
    [(key, message)] = [(k, m) for k, m in fake.messages.items() if k[0] == "D0RITA"]
    return key[1], message


def click(server: RunningServer, fake: FakeSlack, action: str, lead: str, user: str = "U0RITA"):  # type: ignore[no-untyped-def]
    ts, _ = the_dm(fake)
    body = block_action_body(action, lead, response_url=fake.response_url("act"), user_id=user,
                             channel="D0RITA", message_ts=ts, ephemeral=False)  # fmt: skip
    response = server.post("/slack/events", body, signed_headers(body))
    assert response.status_code == 200, response.text


def lead_id(env: dict, external: str) -> int:
    engine = make_engine(Settings(DATABASE_URL=env["DATABASE_URL"]).database_url)
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT id FROM lead WHERE external_id = :e"), {"e": external}
        ).scalar_one()


def lead_field(env: dict, external: str, column: str):  # type: ignore[no-untyped-def]
    engine = make_engine(Settings(DATABASE_URL=env["DATABASE_URL"]).database_url)
    with engine.connect() as connection:
        return connection.execute(
            text(f"SELECT {column} FROM lead WHERE external_id = :e"), {"e": external}
        ).scalar_one()


def first_touch_due(engine: Engine, external_id: str) -> datetime:
    """When the lead's first touch is due, its clocks computed now (a dry-run scan)."""
    from bot.services.alerts import scan
    from bot.slack.render import Renderer

    scan(engine, Renderer(), now=datetime.now(UTC), dry_run=True)
    with engine.connect() as connection:
        due = connection.execute(
            text("SELECT due_at FROM sla_clock JOIN lead ON lead.id = sla_clock.lead_id "
                 "WHERE lead.external_id = :e AND rule = 'first_touch'"), {"e": external_id}
        ).scalar_one()  # fmt: skip
    due_at = due if isinstance(due, datetime) else datetime.fromisoformat(str(due))
    return due_at.replace(tzinfo=due_at.tzinfo or UTC)


def test_contacted_records_a_touch_and_redraws_the_dm(app, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    server, env = app
    ts, before = the_dm(fake_slack)
    assert "Acme" in dumps(before["blocks"]) and "Globex" in dumps(before["blocks"])
    click(server, fake_slack, "sla_contacted", str(lead_id(env, "A1")))
    assert lead_field(env, "A1", "first_touch_at") is not None
    [update] = fake_slack.calls_to("chat.update")
    assert update.body["ts"] == ts
    blocks = fake_slack.messages[("D0RITA", ts)]["blocks"]
    assert "marked *Acme — Jane Doe* contacted" in dumps(blocks)
    shown = [b.get("block_id") for b in blocks]
    assert f"lead:{lead_id(env, 'A1')}" not in shown  # met: Acme left the queue
    assert f"lead:{lead_id(env, 'A2')}" in shown
    # the next scan has nothing new to say about it
    result = subprocess.run([sys.executable, "-m", "bot", "scan"], env=env, capture_output=True,
                            text=True)  # fmt: skip
    assert "Nobody needs to be told" in result.stdout


def test_someone_elses_lead_is_refused(app, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    server, env = app
    click(server, fake_slack, "sla_contacted", str(lead_id(env, "A1")), user="U0SAM")
    [reply] = fake_slack.calls_to("response_url")
    assert reply.body["response_type"] == "ephemeral"
    assert "Only the owner of *Acme — Jane Doe*" in reply.body["text"]
    assert lead_field(env, "A1", "first_touch_at") is None
    assert fake_slack.calls_to("chat.update") == []


def test_manager_snoozes_and_admin_may_act(app, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    server, env = app
    click(server, fake_slack, "sla_snooze", str(lead_id(env, "A2")), user="U0MAX")
    assert lead_field(env, "A2", "snoozed_until") is not None
    ts, _ = the_dm(fake_slack)
    assert "snoozed *Globex — Bob Roe*" in dumps(fake_slack.messages[("D0RITA", ts)])
    fake_slack.users_by_email["ada@example.com"] = "U0ADMIN"
    click(server, fake_slack, "sla_contacted", str(lead_id(env, "A3")), user="U0ADMIN")
    assert lead_field(env, "A3", "first_touch_at") is not None


def modal_values(reason: str, note: str) -> dict:
    """`view.state.values` as Slack sends it: block id → action id → the element's state."""
    return {
        "reason": {"reason": {"type": "static_select", "selected_option": {"value": reason}}},
        "note": {"note": {"type": "plain_text_input", "value": note}},
    }


def test_recycle_asks_for_a_reason_then_recycles(app, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    server, env = app
    click(server, fake_slack, "sla_recycle", str(lead_id(env, "A2")))
    [view] = fake_slack.views
    assert view["callback_id"] == "sla_recycle" and "Globex — Bob Roe" in dumps(view)
    private = view["private_metadata"]

    def submit(values: dict) -> dict:
        body = view_submission_body("sla_recycle", values, private_metadata=private)
        response = server.post("/slack/events", body, signed_headers(body))
        assert response.status_code == 200
        return response.json() if response.text else {}

    other = modal_values("Other", "")
    assert submit(other) == {
        "response_action": "errors",
        "errors": {"note": "Say in a few words why it is not a fit."},
    }
    assert lead_field(env, "A2", "recycled_at") is None
    budget = modal_values("No budget", "<!here> next FY")
    submit(budget)
    assert lead_field(env, "A2", "recycle_reason") == "No budget: <!here> next FY"
    assert lead_field(env, "A2", "stage") == "recycled"
    ts, _ = the_dm(fake_slack)
    redrawn = dumps(fake_slack.messages[("D0RITA", ts)]["blocks"])
    assert "recycled *Globex — Bob Roe* to marketing: No budget: &lt;!here&gt; next FY" in redrawn
    for _ in range(2):  # the same modal submitted again adds no second recycle to the history
        submit(budget)
    assert count_rows(env, "stage_change", "A2", "recycled") == 1


def count_rows(env: dict, table: str, external: str, stage: str | None = None) -> int:
    engine = make_engine(Settings(DATABASE_URL=env["DATABASE_URL"]).database_url)
    where = " AND stage = :s" if stage else ""
    with engine.connect() as connection:
        return connection.execute(
            text(
                f"SELECT count(*) FROM {table} WHERE lead_id = "
                f"(SELECT id FROM lead WHERE external_id = :e){where}"
            ),
            {"e": external, "s": stage},
        ).scalar_one()


def test_a_replayed_contacted_records_one_touch(app, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    server, env = app
    ts, _ = the_dm(fake_slack)
    body = block_action_body("sla_contacted", str(lead_id(env, "A3")), user_id="U0RITA",
                             response_url=fake_slack.response_url("again"), channel="D0RITA",
                             message_ts=ts, ephemeral=False)  # fmt: skip
    for _ in range(3):  # a double-click and a replay of the same signed request
        assert server.post("/slack/events", body, signed_headers(body)).status_code == 200
    assert count_rows(env, "touch", "A3") == 1  # "3 touches in 14d" is not met in 3 seconds
    said = [c.body for c in fake_slack.calls_to("response_url") if c.path.endswith("/again")]
    assert sum("Already recorded" in dumps(message) for message in said) == 2


@pytest.mark.parametrize("value", ["2147483648", "-1", "abc", "9" * 5000, ""])
def test_a_forged_button_value_is_a_gone_lead_not_an_error(
    app, fake_slack: FakeSlack, value
) -> None:  # type: ignore[no-untyped-def]
    server, _ = app
    body = block_action_body("sla_contacted", value, user_id="U0RITA",
                             response_url=fake_slack.response_url("forged"), channel="D0RITA",
                             message_ts="1.1", ephemeral=False)  # fmt: skip
    assert server.post("/slack/events", body, signed_headers(body)).status_code == 200
    [answer] = [c.body for c in fake_slack.calls_to("response_url") if c.path.endswith("/forged")]
    assert "no longer in slabot" in dumps(answer)


def test_sla_lists_my_open_leads(app, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    server, _ = app
    body = slash_command_body("/sla", "")
    reply = server.post("/slack/events", body, signed_headers(body)).json()
    assert reply["response_type"] == "ephemeral"
    shown = dumps(reply["blocks"])
    assert "Your open leads" in shown
    assert shown.index("Acme") < shown.index("Globex") < shown.index("Initech")  # by score
    assert "first touch was due" in shown and "accept or recycle due" in shown

    body = slash_command_body("/sla", "team", user_id="U0MAX")
    team = server.post("/slack/events", body, signed_headers(body)).json()
    assert "Your team's open leads" in dumps(team["blocks"])
    assert "owner rita@example.com" in dumps(team["blocks"])

    body = slash_command_body("/sla", "team")  # Rita manages nobody
    assert (
        "no team view for you"
        in server.post("/slack/events", body, signed_headers(body)).json()["text"]
    )


def test_sla_by_value_puts_the_most_expected_pipeline_first(app, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    """A website MQL is worth the blended funnel's 500,000 ÷ 3,900 = $128.21, an outbound one
    its own funnel's 500,000 ÷ 5,647 = $88.54: Acme and Initech (website) before Globex
    (outbound), whatever their scores; a page turned keeps the order."""
    server, _ = app
    body = slash_command_body("/sla", "by value")
    shown = dumps(server.post("/slack/events", body, signed_headers(body)).json()["blocks"])
    assert shown.index("Acme") < shown.index("Initech") < shown.index("Globex")
    assert shown.count("worth $128") == 2 and shown.count("worth $89") == 1
    assert "The most expected pipeline first" in shown

    body = block_action_body("sla_page", "sla|mine+value|0", user_id="U0RITA",
                             response_url=fake_slack.response_url("paged"), channel="D0RITA",
                             message_ts="1.1", ephemeral=True)  # fmt: skip
    assert server.post("/slack/events", body, signed_headers(body)).status_code == 200
    [paged] = [c.body for c in fake_slack.calls_to("response_url") if c.path.endswith("/paged")]
    shown = dumps(paged)
    assert shown.index("Acme") < shown.index("Initech") < shown.index("Globex")

    body = slash_command_body("/sla", "by score")
    answer = server.post("/slack/events", body, signed_headers(body)).json()["text"]
    assert "`/sla by score` is not something I know" in answer and "/sla by value" in answer


def test_sla_shows_leads_no_scan_has_seen_yet(app, fake_slack: FakeSlack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A lead imported after the last scan: `/sla` computes its clocks then and there."""
    from bot.intake.csv_import import import_csv

    server, env = app
    late = tmp_path / "late.csv"
    late.write_text(f"lead_id,name,company,source,owner_email,score,assigned_at\n"
                    f"A4,Dee Vee,Hooli,website,rita@example.com,95,{ASSIGNED}\n")  # fmt: skip
    engine = engine_for(env["DATABASE_URL"])
    import_csv(engine, late)
    engine.dispose()
    body = slash_command_body("/sla", "")
    shown = dumps(server.post("/slack/events", body, signed_headers(body)).json()["blocks"])
    assert shown.index("Hooli") < shown.index("Acme")  # the highest score, breached like them
    assert shown.count("first touch was due") == 4
    assert not fake_slack.posts_in("D0RITA")[1:]  # shown to her, not yet told: the scan tells


def test_a_rep_sets_their_out_of_office_in_slack_and_their_clocks_pause(  # type: ignore[no-untyped-def]
    app, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """`/sla away TODAY..TOMORROW` stores a new agreement version whose text is the file's with
    Rita's days added (its comments kept), and a lead assigned now is due after those days."""
    from zoneinfo import ZoneInfo

    from bot.intake.csv_import import import_csv

    server, env = app
    engine = make_engine(Settings(DATABASE_URL=env["DATABASE_URL"]).database_url)
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("America/New_York")).date()
    (tmp_path / "new.csv").write_text(
        f"lead_id,company,source,owner_email,assigned_at\nN1,Newco,website,rita@example.com,"
        f"{now.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
    )
    import_csv(engine, tmp_path / "new.csv")

    def away(text_: str, user: str = "U0RITA") -> str:
        body = slash_command_body("/sla", f"away {text_}", user_id=user)
        answer = server.post("/slack/events", body, signed_headers(body))
        assert answer.status_code == 200, answer.text
        return answer.json()["text"]

    tomorrow = today + timedelta(days=1)
    said = away(f"{today.isoformat()}..{tomorrow.isoformat()}")
    assert "stored as agreement version 2" in said and "(2 days)" in said
    assert "no SLA clocks of yours" in away("24 Dec", user="U0MAX")  # a manager, no rep
    assert 'could not read "someday"' in away("someday")
    assert tomorrow.strftime("%a %d %b") in away("")

    due_at = first_touch_due(engine, "N1")
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT source_text FROM agreement_version WHERE version = 2")
        ).scalar_one()
    engine.dispose()
    back = datetime.combine(tomorrow + timedelta(days=1), datetime.min.time(),
                            ZoneInfo("America/New_York"))  # fmt: skip
    assert due_at >= back
    assert "# warn the rep at 75 % of a window" in stored  # the file's comments stay
    assert f"out_of_office = [{today.isoformat()}, {tomorrow.isoformat()}]" in stored
