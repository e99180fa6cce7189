"""An admin sets slabot up from the App Home tab, through signed Slack requests: a CRM owner
nobody matches is mapped to a Slack user and the owner's leads are owned at once (no
re-import); a non-admin sees no set-up, and a forged pick from one changes nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.settings import Settings
from storage.db import make_engine
from tests.conftest import RunningServer, engine_for, slabot_env, start_app, stop_server
from tests.fake_slack import FakeSlack
from tests.signing import event_body, home_action_body, signed_headers
from tests.test_alert_actions import always_open_agreement, first_touch_due

EXPORT = (
    "Record ID,First Name,Company Name,Contact owner,Lifecycle Stage,Original Source,"
    "Became a Marketing Qualified Lead Date\n"
    "201,Ann,Acme,Dana Reyes,Marketing Qualified Lead,Organic Search,2026-11-30 10:00\n"
    "202,Bob,Globex,Dana Reyes,Marketing Qualified Lead,Paid Search,2026-11-30 11:00\n"
)


@pytest.fixture
def server(
    tmp_path: Path, fake_slack: FakeSlack, database_url: str
) -> Iterator[tuple[RunningServer, str]]:
    from bot.intake.csv_import import import_csv
    from bot.services.agreements import apply_agreement
    from storage.migrate import upgrade

    fake_slack.users_by_email["dana@example.com"] = "U0DANA"
    env = slabot_env(database_url, fake_slack, SLABOT_ADMINS="U0ADMIN")
    engine = engine_for(database_url)
    upgrade(engine)
    apply_agreement(engine, always_open_agreement(tmp_path).read_text(), applied_by="test")
    (tmp_path / "hubspot.csv").write_text(EXPORT)
    assert import_csv(engine, tmp_path / "hubspot.csv").unowned == 2
    engine.dispose()
    running = start_app(env, tmp_path / "serve.log")
    yield running, env["DATABASE_URL"]
    stop_server(running)
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def open_home(server: RunningServer, fake: FakeSlack, user: str) -> dict:
    before = len(fake.calls_to("views.publish"))
    opened = {"type": "app_home_opened", "user": user, "channel": "D0X", "tab": "home",
              "event_ts": "1700000001.1"}  # fmt: skip
    body = event_body(opened)
    answer = server.post(
        "/slack/events", body, signed_headers(body, content_type="application/json")
    )
    assert answer.status_code == 200
    return published_after(fake, before, user)


def published_after(fake: FakeSlack, before: int, user: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        calls = fake.calls_to("views.publish")[before:]
        mine = [c for c in calls if c.body["user_id"] == user]
        if mine:
            view = mine[-1].body["view"]
            return json.loads(view) if isinstance(view, str) else view
        time.sleep(0.1)
    raise AssertionError("no views.publish")


def act(server: RunningServer, user: str, action: dict, state: dict | None = None) -> None:
    body = home_action_body(action, user_id=user, state=state)
    assert server.post("/slack/events", body, signed_headers(body)).status_code == 200


def pick(server: RunningServer, user: str, block_id: str, selected: str) -> None:
    """A users_select in the Home tab's set-up."""
    act(server, user, {"type": "users_select", "action_id": "setup_owner", "block_id": block_id,
                       "selected_user": selected})  # fmt: skip


def owners(database_url: str) -> list[str | None]:
    engine = make_engine(Settings(DATABASE_URL=database_url).database_url)
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT owner_email FROM lead WHERE source_system = 'hubspot' ORDER BY id")
        ).scalars()
        result = list(found)
    engine.dispose()
    return result


def test_an_admin_maps_an_unmatched_owner_and_their_leads_are_owned_at_once(
    server: tuple[RunningServer, str], fake_slack: FakeSlack
) -> None:
    running, database_url = server
    home = open_home(running, fake_slack, "U0ADMIN")
    [owner_block] = [b for b in home["blocks"] if b.get("block_id", "").startswith("owner:")]
    assert owner_block["block_id"] == "owner:hubspot:Dana Reyes"
    assert owner_block["accessory"]["type"] == "users_select"
    assert "owns 2 leads in hubspot" in owner_block["text"]["text"]

    checklist = json.dumps(home, ensure_ascii=False)  # `slabot doctor`'s checks, for admins
    assert "✅ *Slack* @slabot in Test Team" in checklist
    assert "❌ *clock* no clock has run" in checklist
    assert "❌ *owners* 2 leads have an owner nobody matches" in checklist

    rita_home = open_home(running, fake_slack, "U0RITA")  # a rep: no set-up
    assert not [b for b in rita_home["blocks"] if b.get("block_id", "").startswith("owner:")]
    assert "*clock*" not in json.dumps(rita_home)
    before = len(fake_slack.calls_to("views.publish"))
    pick(running, "U0RITA", "owner:hubspot:Dana Reyes", "U0RITA")  # forged: no admin
    published_after(fake_slack, before, "U0RITA")
    assert owners(database_url) == [None, None]

    before = len(fake_slack.calls_to("views.publish"))
    pick(running, "U0ADMIN", "owner:hubspot:Dana Reyes", "U0DANA")
    after = published_after(fake_slack, before, "U0ADMIN")
    assert owners(database_url) == ["dana@example.com", "dana@example.com"]
    said = json.dumps(after, ensure_ascii=False)
    assert "Dana Reyes is dana@example.com (agreement version 2): 2 leads now owned" in said
    assert "Every lead's CRM owner is known" in said
    assert "✅ *owners* every lead's owner is known" in said


def save_away(server: RunningServer, user: str, rep: str, first: str, last: str) -> None:
    """Save in the out-of-office row: Slack sends the view's state (the pickers' values)."""
    state = {"setup_away": {
        "away_rep": {"type": "users_select", "selected_user": rep},
        "away_from": {"type": "datepicker", "selected_date": first},
        "away_until": {"type": "datepicker", "selected_date": last},
    }}  # fmt: skip
    press_save(server, user, "away_save", "save", state)


def test_an_admin_sets_a_rep_s_out_of_office_and_the_rep_s_clocks_pause(
    server: tuple[RunningServer, str], fake_slack: FakeSlack
) -> None:
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from bot.intake.csv_import import import_csv

    running, database_url = server
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("America/New_York")).date()
    first, last = today, today + timedelta(days=2)  # away from today on
    engine = make_engine(Settings(DATABASE_URL=database_url).database_url)
    # Rita's new lead, an hour old: due in three hours, unless she is away
    held = now - timedelta(hours=1)
    lead = Path(running.log).parent / "rita.csv"
    lead.write_text(
        "lead_id,company,source,owner_email,assigned_at\n"
        f"R1,Rowco,website,rita@example.com,{held.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
    )
    import_csv(engine, lead)

    before = len(fake_slack.calls_to("views.publish"))
    save_away(running, "U0RITA", "U0RITA", first.isoformat(), last.isoformat())  # forged
    published_after(fake_slack, before, "U0RITA")
    assert versions(database_url) == 1

    before = len(fake_slack.calls_to("views.publish"))
    save_away(running, "U0ADMIN", "U0RITA", first.isoformat(), last.isoformat())
    after = json.dumps(published_after(fake_slack, before, "U0ADMIN"), ensure_ascii=False)
    assert "rita@example.com is out of office" in after and "version 2" in after
    stored = rita_away(database_url)
    assert stored == [(first + timedelta(days=n)).isoformat() for n in range(3)]
    due_local = first_touch_due(engine, "R1").astimezone(ZoneInfo("America/New_York"))
    engine.dispose()
    # the office never closes, so only her days away stop the clock: it runs again after them
    assert due_local.date() == last + timedelta(days=1), due_local


def versions(database_url: str) -> int:
    engine = make_engine(Settings(DATABASE_URL=database_url).database_url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM agreement_version")).scalar_one()
    engine.dispose()
    return int(count)


def rita_away(database_url: str) -> list[str]:
    from storage.agreements import newest_agreement

    engine = make_engine(Settings(DATABASE_URL=database_url).database_url)
    agreement = newest_agreement(engine)
    engine.dispose()
    assert agreement is not None
    rep = agreement.rep("rita@example.com")
    assert rep is not None
    return [day.isoformat() for day in rep.out_of_office]


def press_save(server: RunningServer, user: str, action: str, value: str, state: dict) -> None:
    act(server, user, {"type": "button", "action_id": action, "block_id": "b", "value": value},
        state)  # fmt: skip


def test_an_admin_moves_a_team_s_stand_up_and_adds_a_rep_from_home(
    server: tuple[RunningServer, str], fake_slack: FakeSlack
) -> None:
    from storage.agreements import newest_agreement

    running, database_url = server
    home = open_home(running, fake_slack, "U0ADMIN")
    [row] = [b for b in home["blocks"] if b.get("block_id") == "team:na"]
    assert [e["type"] for e in row["elements"]] == ["conversations_select", "timepicker", "button"]
    assert row["elements"][0]["initial_conversation"] == "C0STANDUP"

    team_state = {
        "team:na": {
            "team_channel": {"type": "conversations_select", "selected_conversation": "C0SALES9"},
            "team_standup": {"type": "timepicker", "selected_time": "08:30"},
        }
    }
    rep_state = {"setup_rep": {
        "rep_user": {"type": "users_select", "selected_user": "U0DANA"},
        "rep_team": {"type": "static_select", "selected_option": {"value": "na"}},
        "rep_manager": {"type": "users_select", "selected_user": "U0MAX"},
    }}  # fmt: skip
    before = len(fake_slack.calls_to("views.publish"))
    press_save(running, "U0RITA", "team_save", "na", team_state)  # forged: no admin
    published_after(fake_slack, before, "U0RITA")
    assert versions(database_url) == 1

    before = len(fake_slack.calls_to("views.publish"))
    press_save(running, "U0ADMIN", "team_save", "na", team_state)
    said = json.dumps(published_after(fake_slack, before, "U0ADMIN"), ensure_ascii=False)
    assert "Team na: <#C0SALES9> at 08:30 (agreement version 2)" in said
    before = len(fake_slack.calls_to("views.publish"))
    press_save(running, "U0ADMIN", "rep_save", "save", rep_state)
    said = json.dumps(published_after(fake_slack, before, "U0ADMIN"), ensure_ascii=False)
    assert "dana@example.com is a rep of team na, managed by max@example.com" in said

    engine = make_engine(Settings(DATABASE_URL=database_url).database_url)
    agreement = newest_agreement(engine)
    engine.dispose()
    assert agreement is not None
    team = agreement.team("na")
    assert team is not None and (team.channel, team.standup) == ("C0SALES9", "08:30")
    dana = agreement.rep("dana@example.com")
    assert dana is not None and (dana.team, dana.manager) == ("na", "max@example.com")
