"""A rep with more leads than one message holds: the DM shows the most urgent and points to the
Home tab, where the whole queue pages with the same buttons; `/sla` pages too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.conftest import RunningServer, engine_for, slabot_env, start_app, stop_server
from tests.fake_slack import FakeSlack
from tests.signing import block_action_body, signed_headers, slash_command_body
from tests.test_alert_actions import ASSIGNED, always_open_agreement

LEADS = 60
DM_LINES = 22  # (50 blocks − 5 for the frame) ÷ 2 blocks a lead
HOME_LINES = 44  # (100 − 6 for the rest of the Home tab − 5) ÷ 2


@pytest.fixture
def server(tmp_path: Path, fake_slack: FakeSlack, database_url: str) -> Iterator[RunningServer]:
    from bot.flows.alerts import scan_and_deliver
    from bot.intake.csv_import import import_csv
    from bot.services.agreements import apply_agreement
    from bot.slack.render import Renderer
    from storage.migrate import upgrade

    env = slabot_env(database_url, fake_slack)
    (tmp_path / "leads.csv").write_text(
        "lead_id,company,source,owner_email,score,assigned_at\n"
        + "".join(f"Q{n},Co{n:02d},website,rita@example.com,{n},{ASSIGNED}\n" for n in range(LEADS))
    )
    engine = engine_for(database_url)
    upgrade(engine)
    apply_agreement(engine, always_open_agreement(tmp_path).read_text(), applied_by="test")
    import_csv(engine, tmp_path / "leads.csv")
    settings = Settings(**{k: v for k, v in env.items() if k.startswith(("SLACK_", "DATABASE"))})
    scan_and_deliver(engine, Renderer(), settings, now=datetime.now(UTC))
    engine.dispose()
    running = start_app(env, tmp_path / "serve.log")
    yield running
    stop_server(running)
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def companies(blocks: list[dict]) -> list[str]:
    """The leads a message shows, in order (each lead's section block is `lead:<id>`)."""
    return [
        block["text"]["text"].split("*")[1]
        for block in blocks
        if block.get("block_id", "").startswith("lead:")
    ]


def button(blocks: list[dict], action_id: str, label: str = "") -> dict:
    [found] = [
        element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id and label in element["text"]["text"]
    ]
    return found


def press(server: RunningServer, fake: FakeSlack, action: str, value: str) -> None:
    body = block_action_body(action, value, response_url=fake.response_url("page"),
                             channel="D0RITA", message_ts="1.1")  # fmt: skip
    assert server.post("/slack/events", body, signed_headers(body)).status_code == 200


def by_score() -> list[str]:
    return [f"Co{n:02d}" for n in reversed(range(LEADS))]  # all breached: the highest first


def test_the_dm_points_to_the_home_tab_which_pages_the_whole_queue(
    server: RunningServer, fake_slack: FakeSlack
) -> None:
    [dm] = fake_slack.posts_in("D0RITA")
    assert len(dm["blocks"]) <= 50
    assert companies(dm["blocks"]) == by_score()[:DM_LINES]
    assert f"…and {LEADS - DM_LINES} more" in json.dumps(dm["blocks"], ensure_ascii=False)
    show_all = button(dm["blocks"], "sla_open_home")
    assert show_all["text"]["text"] == f"Show all {LEADS} in Home"

    press(server, fake_slack, "sla_open_home", show_all["value"])
    [first] = fake_slack.calls_to("views.publish")
    assert first.body["user_id"] == "U0RITA"
    page = (
        json.loads(first.body["view"])
        if isinstance(first.body["view"], str)
        else first.body["view"]
    )
    assert len(page["blocks"]) <= 100
    assert companies(page["blocks"]) == by_score()[:HOME_LINES]
    assert (
        len([b for b in page["blocks"] if b.get("block_id", "").startswith("act:")]) == HOME_LINES
    )
    told = [c.body for c in fake_slack.calls_to("response_url")]
    assert "Home" in told[-1]["text"]

    press(server, fake_slack, "sla_page", button(page["blocks"], "sla_page", "Next")["value"])
    second = fake_slack.calls_to("views.publish")[-1].body["view"]
    second = json.loads(second) if isinstance(second, str) else second
    assert companies(second["blocks"]) == by_score()[HOME_LINES:]  # the rest, and nothing twice
    assert "page 2 of 2" in json.dumps(second["blocks"])


def test_sla_pages_through_every_lead(server: RunningServer, fake_slack: FakeSlack) -> None:
    body = slash_command_body("/sla", "", response_url=fake_slack.response_url("page"))
    reply = server.post("/slack/events", body, signed_headers(body)).json()
    seen = companies(reply["blocks"])
    blocks = reply["blocks"]
    while "Next ›" in json.dumps(blocks, ensure_ascii=False):
        press(server, fake_slack, "sla_page", button(blocks, "sla_page", "Next")["value"])
        replaced = fake_slack.calls_to("response_url")[-1].body
        assert replaced["replace_original"] is True
        blocks = replaced["blocks"]
        seen += companies(blocks)
    assert seen == by_score()  # 22 + 22 + 16, in order
    assert "page 3 of 3" in json.dumps(blocks)
    press(server, fake_slack, "sla_page", button(blocks, "sla_page", "Previous")["value"])
    back = fake_slack.calls_to("response_url")[-1].body["blocks"]
    assert companies(back) == by_score()[DM_LINES : 2 * DM_LINES]
