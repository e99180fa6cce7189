"""Hypothesis against a running `slabot serve`: slash commands with any text, buttons with any
value, webhooks with any JSON body. Whatever comes in, the answer is never a 5xx, never a
traceback, and nothing slabot sends or answers carries an unescaped Slack control sequence
(`<!channel>`, `<!here>`, `<!subteam^…>`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    signed_headers,
    slabot_webhook_headers,
    slash_command_body,
)

SECRET = "fuzz-webhook-secret"
HUBSPOT_SECRET = "fuzz-hubspot-secret"
HOSTILE = ["<!channel>", "<!here|here>", "<!subteam^S1>", "<@U0MAX>", "&", "&amp;", "<", ">"]
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def fake(module_database_url: str) -> Iterator[FakeSlack]:
    """One stand-in per database the module runs on (its calls are counted per server)."""
    fake = FakeSlack(users_by_email={"rita@example.com": "U0RITA", "max@example.com": "U0MAX"})
    yield fake.start()
    fake.stop()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeSlack, module_database_url: str
) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    url = module_database_url
    engine = engine_for(url)
    upgrade(engine)
    seed_agreement(engine)
    engine.dispose()
    env = slabot_env(url, fake, SLABOT_WEBHOOK_SECRET=SECRET, HUBSPOT_CLIENT_SECRET=HUBSPOT_SECRET)
    running = start_app(env, folder / "serve.log")
    leads = [
        {
            "lead_id": f"F{n}",
            "company": "<!channel> & " * 38,
            "name": "<!here> Ann",
            "owner_email": "rita@example.com",
            "assigned_at": "2026-11-02T14:00:00Z",
            "mql_at": "2026-11-02T14:00:00Z",
            "source": "<!subteam^S1>",
        }
        for n in range(3)
    ]
    body = json.dumps({"leads": leads}).encode()
    seeded = native(running, body)
    assert seeded.status_code == 200, seeded.text
    yield running
    stop_server(running)


def native(server: RunningServer, body: bytes) -> httpx.Response:
    headers = slabot_webhook_headers(SECRET, body)
    return httpx.post(server.url + "/webhooks/leads", content=body, headers=headers, timeout=30)


def hubspot(server: RunningServer, body: bytes) -> httpx.Response:
    ts = str(int(time.time() * 1000))
    source = f"POST{server.url}/webhooks/hubspot".encode() + body + ts.encode()
    signature = base64.b64encode(hmac.new(HUBSPOT_SECRET.encode(), source, hashlib.sha256).digest())
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": ts,
        "X-HubSpot-Signature-v3": signature.decode(),
    }
    return httpx.post(server.url + "/webhooks/hubspot", content=body, headers=headers, timeout=30)


def assert_clean(answer: httpx.Response, fake: FakeSlack, *, to_slack: bool = True) -> None:
    """No 5xx, no traceback, and no `<!` in what reached Slack: the calls to its API and to
    response URLs, and the answer itself when Slack asked (a webhook's answer goes to the CRM,
    which may see its own value quoted back)."""
    assert answer.status_code < 500, answer.text
    assert "Traceback" not in answer.text
    sent = (answer.text if to_slack else "") + "".join(json.dumps(c.body) for c in fake.calls)
    assert "<!" not in sent, sent[sent.index("<!") - 200 : sent.index("<!") + 50]
    fake.calls.clear()


words = st.one_of(
    st.sampled_from(
        [
            *HOSTILE,
            "500k",
            "1M",
            "quota=1M",
            "aov=2k",
            "win=23%",
            "sql2opp=82%",
            "mql2sql=34%",
            "period=quarter",
            "source=webinar",
            "help",
            "terms",
            "na",
            "2147483648",
            "-1",
            "1e309",
            "nan",
            "=",
            "%",
        ]
    ),
    st.text(max_size=30),
)
slash_texts = st.lists(words, max_size=8).map(" ".join)


@FUZZ
@given(command=st.sampled_from(["/quota", "/sla", "/pace"]), text=slash_texts)
def test_any_slash_command_text(
    server: RunningServer, fake: FakeSlack, command: str, text: str
) -> None:
    body = slash_command_body(command, text, response_url=fake.response_url("fuzz"))
    answer = server.post("/slack/events", body, signed_headers(body))
    assert answer.status_code == 200
    assert_clean(answer, fake)


button_values = st.one_of(
    st.sampled_from(["1", "2", "3", "0", "-1", "2147483648", "na|2026-11-23", "500k", *HOSTILE]),
    st.text(max_size=60),
    st.integers().map(str),
)


@FUZZ
@given(
    action=st.sampled_from(
        ["sla_contacted", "sla_snooze", "sla_recycle", "digest_details", "quota_share"]
    ),
    value=button_values,
    user=st.sampled_from(["U0RITA", "U0MAX", "U0NOBODY"]),
)
def test_any_button_value(
    server: RunningServer, fake: FakeSlack, action: str, value: str, user: str
) -> None:
    body = block_action_body(action, value, response_url=fake.response_url("fuzz"), user_id=user)
    answer = server.post("/slack/events", body, signed_headers(body))
    assert answer.status_code == 200
    assert_clean(answer, fake)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(HOSTILE),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
lead_fields = st.fixed_dictionaries(
    {},
    optional={
        key: json_values | st.sampled_from(HOSTILE)
        for key in (
            "lead_id",
            "email",
            "company",
            "source",
            "owner_email",
            "mql_at",
            "sql_at",
            "assigned_at",
            "score",
            "crm_url",
        )
    },
)
native_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"leads": st.lists(lead_fields, max_size=3)}),
    st.fixed_dictionaries(
        {
            "touches": st.lists(
                st.dictionaries(
                    st.sampled_from(["lead_id", "touched_at", "kind"]), json_values, max_size=3
                ),
                max_size=3,
            )
        }
    ),
)
hubspot_event = st.fixed_dictionaries(
    {
        "objectId": st.one_of(st.integers(), json_values),
        "propertyName": st.sampled_from(
            ["hubspot_owner_id", "hs_lead_status", "lifecyclestage", "notes_last_contacted"]
        )
        | st.text(max_size=20),
        "propertyValue": json_values,
        "occurredAt": st.one_of(st.integers(), json_values),
        "subscriptionType": st.sampled_from(
            ["contact.propertyChange", "contact.creation", "contact.deletion"]
        )
        | st.text(max_size=20),
    }
)
hubspot_bodies = st.one_of(json_values, st.lists(hubspot_event, max_size=4))


@FUZZ
@given(body=native_bodies)
def test_any_native_webhook_body(server: RunningServer, fake: FakeSlack, body: object) -> None:
    assert_clean(native(server, json.dumps(body).encode()), fake, to_slack=False)


@FUZZ
@given(body=hubspot_bodies)
def test_any_hubspot_webhook_body(server: RunningServer, fake: FakeSlack, body: object) -> None:
    assert_clean(hubspot(server, json.dumps(body).encode()), fake, to_slack=False)


def test_the_hostile_leads_reach_what_rita_sees(server: RunningServer, fake: FakeSlack) -> None:
    """The fuzzed surfaces render these leads: their text arrives escaped, not dropped."""
    body = slash_command_body("/sla", "", response_url=fake.response_url("fuzz"))
    answer = server.post("/slack/events", body, signed_headers(body))
    assert "&lt;!channel&gt; &amp;" in answer.text
    assert_clean(answer, fake)


def test_the_fuzzed_server_logged_no_traceback(server: RunningServer) -> None:
    """Runs after the fuzz tests in this module: any listener failure would be here."""
    log = server.log.read_text()
    assert "Traceback" not in log, log[log.index("Traceback") - 500 :][:3000]
