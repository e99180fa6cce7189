"""`/pace` and the digest's Details button, as Slack sends them: signed requests into a running
`slabot serve` over the seeded Friday database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.services.digest import compute_digest
from bot.slack.render import fmt_number
from tests.conftest import RunningServer, slabot_env, start_app, stop_server
from tests.fake_slack import FakeSlack
from tests.signing import block_action_body, signed_headers, slash_command_body
from tests.test_digest import seed


@pytest.fixture
def server(
    engine: Engine, database_url: str, fake_slack: FakeSlack, tmp_path
) -> Iterator[RunningServer]:
    seed(engine)
    running = start_app(slabot_env(database_url, fake_slack), tmp_path / "serve.log")
    yield running
    stop_server(running)
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log


def pace(server: RunningServer, text: str) -> dict:
    body = slash_command_body("/pace", text)
    response = server.post("/slack/events", body, signed_headers(body))
    assert response.status_code == 200, response.text
    return response.json()


def test_pace_answers_this_mornings_figures_only_to_the_caller(
    server: RunningServer, engine: Engine
) -> None:
    answer = pace(server, "")
    assert answer["response_type"] == "ephemeral"
    today = compute_digest(engine, team="na", now=datetime.now(UTC), fresh=False)
    header = answer["blocks"][0]["text"]["text"]
    assert header.startswith("Pace · ") and str(today.day.day) in header
    shown = json.dumps(answer["blocks"], ensure_ascii=False)
    assert f"{fmt_number(today.figures.mqls.actual)} of 3,900" in shown
    assert f"{fmt_number(today.figures.sqls.actual)} of 1,326" in shown
    assert answer["text"].startswith("Pace na, ")
    assert pace(server, "na")["blocks"] == answer["blocks"]


def test_pace_with_a_typo_says_what_was_wrong(server: RunningServer) -> None:
    answer = pace(server, "emae")
    assert answer["response_type"] == "ephemeral"
    assert "no team named 'emae'" in answer["text"] and "`/pace na`" in answer["text"]
    assert "give one team name" in pace(server, "na extra")["text"]


def test_details_button_opens_the_full_figures(
    server: RunningServer, fake_slack: FakeSlack
) -> None:
    body = block_action_body(
        "digest_details", "na|2026-11-20", response_url=fake_slack.response_url("details")
    )
    response = server.post("/slack/events", body, signed_headers(body))
    assert response.status_code == 200
    [view] = fake_slack.views
    assert view["type"] == "modal" and view["title"]["text"] == "Stand-up details"
    shown = json.dumps(view["blocks"], ensure_ascii=False)
    assert "*MQLs* 2,400 of 3,900 · behind (89.9% of pace)" in shown
    assert "*outbound MQLs* 950 of 1,560" in shown
    assert "*events MQLs* 10 (outside the source split)" in shown
    assert "28 SQLs of 101 MQLs = 27.7% (assumed 34%)" in shown
    assert "bad timing: 15" in shown


def test_details_of_an_unknown_team_is_explained(
    server: RunningServer, fake_slack: FakeSlack
) -> None:
    body = block_action_body(
        "digest_details", "gone|2026-11-20", response_url=fake_slack.response_url("details")
    )
    assert server.post("/slack/events", body, signed_headers(body)).status_code == 200
    [reply] = [c for c in fake_slack.calls if c.method == "response_url"]
    assert "no team named 'gone'" in reply.body["text"] and not fake_slack.views


def test_unsigned_pace_is_refused(server: RunningServer) -> None:
    body = slash_command_body("/pace", "")
    headers = signed_headers(body, secret="not-the-secret")
    assert (
        httpx.post(server.url + "/slack/events", content=body, headers=headers).status_code == 401
    )
