"""End to end: a real `slabot serve` (gunicorn) answering Slack-signed HTTP requests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.settings import Settings
from storage.db import make_engine
from storage.migrate import upgrade
from tests.conftest import (
    RunningServer,
    engine_for,
    seed_agreement,
    slabot_env,
    start_app,
    stop_server,
)
from tests.fake_slack import FakeSlack
from tests.signing import (
    block_action_body,
    event_body,
    signed_headers,
    slash_command_body,
)

WORKED_EXAMPLE = "500k aov=2k win=23% sql2opp=82% mql2sql=34%"


@pytest.fixture(scope="module")
def fake(module_database_url: str) -> Iterator[FakeSlack]:
    """One stand-in per database the module runs on (its calls are counted per server)."""
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeSlack, module_database_url: str
) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("serve")
    url = module_database_url
    engine: Engine = make_engine(Settings(DATABASE_URL=url).database_url)
    upgrade(engine)
    seed_agreement(engine)
    engine.dispose()
    running = start_app(slabot_env(url, fake), folder / "serve.log")
    yield running
    stop_server(running)
    log = (folder / "serve.log").read_text()
    assert "Traceback" not in log, log


def quota(server: RunningServer, text: str, **kwargs) -> dict:
    body = slash_command_body("/quota", text, **kwargs)
    response = server.post("/slack/events", body, signed_headers(body))
    assert response.status_code == 200, response.text
    return response.json()


def fields(message: dict) -> dict[str, str]:
    """{"Deals": "250", …} from the section fields of a /quota reply."""
    out = {}
    for block in message["blocks"]:
        for field in block.get("fields", []):
            title, _, value = field["text"].partition("\n")
            out[title.strip("*")] = value
    return out


def test_healthz_checks_the_database_and_the_clock(server: RunningServer) -> None:
    import httpx
    from sqlalchemy import delete

    from storage import clock
    from storage.models import ClockBeat

    response = httpx.get(server.url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {  # no clock started yet; Slack takes the token
        "ok": True,
        "database": "ok",
        "clock": None,
        "slack": {"ok": True},
    }

    engine = engine_for(server.database_url)
    now = datetime.now(UTC)
    try:
        with engine.begin() as connection:  # beats every 10 s; last heard 25 s ago: healthy
            clock.beat(connection, every_s=10, now=now - timedelta(seconds=25))
        response = httpx.get(server.url + "/healthz")
        assert response.status_code == 200
        assert response.json()["clock"]["seconds_ago"] >= 25
        with engine.begin() as connection:  # three beats missed: the clock is silent
            clock.beat(connection, every_s=10, now=now - timedelta(seconds=31))
        response = httpx.get(server.url + "/healthz")
        assert response.status_code == 503 and response.json()["ok"] is False
    finally:
        with engine.begin() as connection:
            connection.execute(delete(ClockBeat))
        engine.dispose()


def test_quota_worked_example_is_answered_ephemerally(server: RunningServer) -> None:
    reply = quota(server, WORKED_EXAMPLE)
    assert reply["response_type"] == "ephemeral"
    got = fields(reply)
    # DOMAIN.md: 250 deals, 1,087 opportunities, 1,326 SQLs, 3,900 MQLs, $128 per MQL.
    assert (got["Deals"], got["Opportunities"], got["SQLs"], got["MQLs"]) == (
        "250",
        "1,087",
        "1,326",
        "3,900",
    )
    assert got["Value per MQL"] == "$128"
    assert "3,900 MQLs" in reply["text"]
    share = next(b for b in reply["blocks"] if b["type"] == "actions")["elements"][0]
    assert share["action_id"] == "quota_share" and share["value"] == WORKED_EXAMPLE


def test_quota_alone_uses_the_stored_assumptions(server: RunningServer) -> None:
    got = fields(quota(server, ""))
    assert got["MQLs"] == "3,900"
    # outbound overrides: win 18 %, MQL→SQL 30 % (sql2opp from the blend, 82 %):
    # 250 deals → ⌈250/0.18⌉ = 1,389 opps → ⌈1,389/0.82⌉ = 1,694 SQLs → ⌈1,694/0.30⌉ = 5,647
    outbound = fields(quota(server, "source=outbound"))
    assert (outbound["Opportunities"], outbound["SQLs"], outbound["MQLs"]) == (
        "1,389",
        "1,694",
        "5,647",
    )
    assert outbound["Value per MQL"] == "$89"  # 500,000 / 5,647 = 88.54


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500k win=23", "did you mean 23%?"),
        ("500k win=0%", "must be above 0 %"),
        ("500k win=120%", "can't be above 100 %"),
        ("-500k", "can't be negative"),
        ("0", "must be more than zero"),
        ("lots", "neither an amount nor a key=value"),
        ("500k wn=23%", "did you mean `win=`?"),
        ("500k aov=two", "is not an amount for aov"),
        ("500k period=week", "period must be month, quarter or year"),
        ("500k source=partners", "unknown source `partners`"),
        ("500k 600k", "two amounts given"),
        ("500k win=23% win=24%", "given twice"),
        ("999999999999999", "more than $1 trillion"),
        ("500k aov=1 win=0.0001% sql2opp=1% mql2sql=1%", "check the amounts and rates"),
        ("x" * 600, "takes a short line"),
        ("<!channel> & friends", "neither an amount"),
    ],
)
def test_malformed_quota_gets_a_specific_message_and_an_example(
    server: RunningServer, text: str, expected: str
) -> None:
    reply = quota(server, text)
    assert reply["response_type"] == "ephemeral"
    rendered = json.dumps(reply["blocks"])
    assert expected in reply["text"]
    assert "Example: /quota 500k aov=2k win=23% sql2opp=82% mql2sql=34%" in rendered
    assert "<!channel>" not in rendered  # user text is escaped before it is echoed


def test_quota_help_shows_the_grammar(server: RunningServer) -> None:
    reply = quota(server, "help")
    assert "/quota [AMOUNT] [aov=AMOUNT]" in reply["text"]
    assert "Example:" in json.dumps(reply["blocks"])


def test_every_slash_command_the_manifest_declares_is_answered(server: RunningServer) -> None:
    """Slack is told of the commands in manifest.yml; slabot answers exactly those."""
    import yaml

    from bot.listeners import slash_commands

    manifest = yaml.safe_load((Path(__file__).parents[1] / "manifest.yml").read_text())
    declared = [entry["command"] for entry in manifest["features"]["slash_commands"]]
    assert list(slash_commands()) == declared
    for command in [*declared, "/nonesuch"]:
        body = slash_command_body(command, "help")
        response = server.post("/slack/events", body, signed_headers(body))
        expected = 404 if command == "/nonesuch" else 200  # Bolt: no listener, 404
        assert response.status_code == expected, (command, response.text)


@pytest.mark.parametrize(
    "forge",
    ["wrong-secret", "stale", "missing"],
)
def test_forged_or_stale_requests_get_401_and_do_nothing(
    server: RunningServer, fake: FakeSlack, forge: str
) -> None:
    response_url = fake.response_url(f"forged-{forge}")
    body = block_action_body("quota_share", WORKED_EXAMPLE, response_url=response_url)
    if forge == "wrong-secret":
        headers = signed_headers(body, secret="not-the-secret")
    elif forge == "stale":
        headers = signed_headers(body, timestamp=int(time.time()) - 6 * 60)
    else:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = server.post("/slack/events", body, headers)
    assert response.status_code == 401
    time.sleep(0.2)
    assert [c for c in fake.calls if c.path.endswith(f"forged-{forge}")] == []


def test_share_button_posts_the_answer_in_channel(server: RunningServer, fake: FakeSlack) -> None:
    response_url = fake.response_url("share-1")
    body = block_action_body(
        "quota_share", WORKED_EXAMPLE, response_url=response_url, user_id="U0SAM"
    )
    response = server.post("/slack/events", body, signed_headers(body))
    assert response.status_code == 200
    posts = [c.body for c in fake.calls if c.path.endswith("share-1")]
    assert posts[0]["delete_original"] is True
    shared = posts[1]
    assert shared["response_type"] == "in_channel"
    assert fields(shared)["MQLs"] == "3,900"
    rendered = json.dumps(shared["blocks"])
    assert "Shared by <@U0SAM>" in rendered and "quota_share" not in rendered


def test_app_home_opened_publishes_the_home_tab(server: RunningServer, fake: FakeSlack) -> None:
    fake.fail("views.publish", 429, times=1, retry_after=1)  # Slack rate-limits the first try
    body = event_body(
        {
            "type": "app_home_opened",
            "user": "U0RITA",
            "channel": "D0RITA",
            "tab": "home",
            "event_ts": "1700000000.1",
        }
    )
    response = server.post(
        "/slack/events", body, signed_headers(body, content_type="application/json")
    )
    assert response.status_code == 200
    deadline = time.monotonic() + 10
    while not fake.calls_to("views.publish") and time.monotonic() < deadline:
        time.sleep(0.05)
    attempts = [c.status for c in fake.calls if c.method == "views.publish"]
    assert attempts == [429, 200]  # slack_sdk's retry handler waited Retry-After and retried
    call = fake.calls_to("views.publish")[-1]
    assert call.body["user_id"] == "U0RITA"
    view = (
        call.body["view"] if isinstance(call.body["view"], dict) else json.loads(call.body["view"])
    )
    assert view["type"] == "home"
    assert "3,900 MQLs" in json.dumps(view["blocks"])


def test_slack_s_edges_are_answered(server: RunningServer, fake: FakeSlack) -> None:
    """Slack's unsigned `ssl_check`, a button this release does not know, a retried event
    (the same `event_id`, `X-Slack-Retry-Num: 1`) and `app_rate_limited` (the payload of
    Slack's documentation) are each answered 200; the retried event is handled once."""
    import httpx

    ssl_check = httpx.post(
        server.url + "/slack/events",
        content="ssl_check=1&token=xxx",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"},
        timeout=10,
    )  # fmt: skip
    assert ssl_check.status_code == 200
    old_button = block_action_body(
        "sla_retired_button_from_2025", "42", response_url=fake.response_url("old")
    )
    assert server.post("/slack/events", old_button, signed_headers(old_button)).status_code == 200
    rate_limited = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "app_rate_limited",
                               "team_id": "T0TEST", "minute_rate_limited": 1518467820,
                               "api_app_id": "A0SLABOT"})  # fmt: skip
    headers = signed_headers(rate_limited, content_type="application/json")
    assert server.post("/slack/events", rate_limited, headers).status_code == 200
    before = len(fake.calls_to("views.publish"))
    opened = {"type": "app_home_opened", "user": "U0RITA", "channel": "D0RITA", "tab": "home",
              "event_ts": "1700000001.1"}  # fmt: skip
    body = event_body(opened, event_id="Ev0RETRIED")
    first = server.post(
        "/slack/events", body, signed_headers(body, content_type="application/json")
    )
    retry = server.post(
        "/slack/events",
        body,
        signed_headers(body, content_type="application/json")
        | {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert (first.status_code, retry.status_code) == (200, 200)
    time.sleep(1.0)
    assert len(fake.calls_to("views.publish")) == before + 1


def test_serve_without_signing_secret_stops_with_one_line(tmp_path: Path, fake: FakeSlack) -> None:
    import subprocess
    import sys

    env = slabot_env(f"sqlite:///{tmp_path / 'x.db'}", fake)
    del env["SLACK_SIGNING_SECRET"]
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SLACK_SIGNING_SECRET" in lines[0]


def test_sla_terms_and_unknown_subcommand(server: RunningServer) -> None:
    body = slash_command_body("/sla", "terms")
    reply = server.post("/slack/events", body, signed_headers(body)).json()
    assert reply["response_type"] == "ephemeral"
    assert reply["blocks"][0]["text"]["text"] == "Marketing & Sales SLA, H2 (v1)"
    got = fields(reply)
    assert got["MQL target"] == "3,900 per month" and got["First touch"].startswith("within 4h")
    body = slash_command_body("/sla", "<!here> please")
    unknown = server.post("/slack/events", body, signed_headers(body)).json()
    assert "is not something I know" in unknown["text"] and "/sla terms" in unknown["text"]
    assert "<!here>" not in unknown["text"]


def test_metrics_in_prometheus_text_format(server: RunningServer) -> None:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families
    from sqlalchemy import delete, update

    from storage import clock, outbox
    from storage.models import ClockBeat, Outbox

    def scrape() -> dict[tuple[str, tuple], float]:
        response = httpx.get(server.url + "/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }

    pending = ("slabot_messages", (("state", "pending"),))
    failed = ("slabot_messages", (("state", "failed"),))
    before = scrape()
    engine = engine_for(server.database_url)
    now = datetime.now(UTC)
    try:
        with engine.begin() as connection:
            for n in range(3):
                outbox.enqueue(
                    connection, key=f"metrics:{n}", kind="sla_rep", audience="m@example.com",
                    day=now.date(), payload={"text": "x"}, now=now + timedelta(days=1),
                )  # fmt: skip
            third = outbox.item_by_key(connection, "metrics:2")
            outbox.mark_failed(connection, third.id, error="x")  # type: ignore[union-attr]
            connection.execute(update(Outbox).where(Outbox.key == "metrics:0").values(attempts=3))
            clock.beat(connection, every_s=10, now=now)
            clock.took(connection, "scan", 1.25)
        after = scrape()
        assert after[pending] - before[pending] == 2
        assert after[failed] - before[failed] == 1
        assert after[("slabot_messages_retried", ())] - before[("slabot_messages_retried", ())] == 1
        assert after[("slabot_job_seconds", (("job", "scan"),))] == 1.25
        assert after[("slabot_clock_last_beat_timestamp_seconds", ())] == now.timestamp()
        assert ("slabot_open_breaches", ()) in after and ("slabot_unowned_leads", ()) in after
    finally:
        with engine.begin() as connection:
            connection.execute(delete(Outbox).where(Outbox.key.like("metrics:%")))
            connection.execute(delete(ClockBeat))
        engine.dispose()


def test_an_uninstall_pauses_delivery_and_says_so(server: RunningServer) -> None:
    """`app_uninstalled`: no more calls into `invalid_auth`; delivery pauses, `/healthz` says
    why. (Last in this module: the pause stays.)"""
    import httpx

    body = event_body({"type": "app_uninstalled"})
    response = server.post(
        "/slack/events", body, signed_headers(body, content_type="application/json")
    )
    assert response.status_code == 200
    health = httpx.get(server.url + "/healthz", timeout=10)
    assert (health.status_code, health.json()["slack"]["paused"]) == (503, "app_uninstalled")
