"""Signed webhooks into a running `slabot serve`: the native feed applied whole or refused whole,
HubSpot's events each on their own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from bot.settings import Settings
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Lead, Touch
from tests.conftest import RunningServer, engine_for, slabot_env, start_app, stop_server
from tests.fake_slack import FakeSlack
from tests.signing import slabot_webhook_headers

SECRET = "webhook-secret"
HUBSPOT_SECRET = "hubspot-client-secret"


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[tuple[RunningServer, str]]:
    folder = tmp_path_factory.mktemp("hooks")
    url = module_database_url
    upgrade(engine_for(url))
    fake = FakeSlack().start()
    server = start_app(
        slabot_env(url, fake, SLABOT_WEBHOOK_SECRET=SECRET, HUBSPOT_CLIENT_SECRET=HUBSPOT_SECRET),
        folder / "serve.log",
    )
    yield server, url
    stop_server(server)
    fake.stop()


def signed(body: bytes, *, secret: str = SECRET, age: int = 0) -> dict[str, str]:
    return slabot_webhook_headers(secret, body, age=age)


def post(server: RunningServer, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(server.url + path, content=body, headers=headers, timeout=10)


def counts(url: str) -> tuple[int, int]:
    engine = make_engine(Settings(DATABASE_URL=url).database_url)
    with Session(engine) as session:
        leads = session.exec(select(func.count()).select_from(Lead)).scalar_one()
        touches = session.exec(select(func.count()).select_from(Touch)).scalar_one()
    engine.dispose()
    return leads, touches


PAYLOAD = {
    "leads": [
        {
            "lead_id": "W1",
            "email": "wes@web.io",
            "company": "Web Co",
            "source": "website",
            "owner_email": "rita@example.com",
            "mql_at": "2026-11-20T14:00:00Z",
            "score": 81,
        },
        {"lead_id": "W2", "mql_at": "2026-11-20T15:00:00Z"},
    ],
    "touches": [
        {
            "lead_id": "W1",
            "touched_at": "2026-11-20T15:30:00Z",
            "kind": "call",
            "rep_email": "rita@example.com",
        }
    ],
}


def test_signed_native_webhook_upserts_and_repeats_are_idempotent(served) -> None:  # type: ignore[no-untyped-def]
    server, url = served
    body = json.dumps(PAYLOAD).encode()
    first = post(server, "/webhooks/leads", body, signed(body))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "ok": True,
        "leads": {"inserted": 2, "updated": 0, "unchanged": 0},
        "touches": 1,
    }
    again = post(server, "/webhooks/leads", body, signed(body))
    assert again.json()["leads"] == {"inserted": 0, "updated": 0, "unchanged": 2}
    assert again.json()["touches"] == 0
    assert counts(url) == (2, 1)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (lambda body: signed(body, secret="forged"), 401),
        (lambda body: signed(body, age=6 * 60), 401),
        (lambda body: {"Content-Type": "application/json"}, 401),
        (lambda body: {**signed(body), "X-Slabot-Request-Timestamp": "soon"}, 401),
    ],
)
def test_forged_and_stale_webhooks_are_refused(served, headers, status) -> None:  # type: ignore[no-untyped-def]
    server, url = served
    before = counts(url)
    body = json.dumps({"leads": [{"lead_id": "FORGED"}]}).encode()
    assert post(server, "/webhooks/leads", body, headers(body)).status_code == status
    assert counts(url) == before


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "the body is not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (json.dumps({"lead": []}).encode(), "unknown key(s) lead"),
        (
            json.dumps(
                {"leads": [{"lead_id": "OK1"}, {"lead_id": "B", "mql_at": "yesterday"}]}
            ).encode(),
            "leads[1].mql_at: 'yesterday' is not a date/time",
        ),
        (
            json.dumps({"leads": [{"lead_id": "OK2", "mql_date": "2026-11-20"}]}).encode(),
            "leads[0].mql_date: is not a known field",
        ),
        (
            json.dumps(
                {
                    "leads": [{"lead_id": "OK3"}],
                    "touches": [{"lead_id": "NOPE", "touched_at": "2026-11-20T10:00Z"}],
                }
            ).encode(),
            "touches name unknown lead(s): NOPE",
        ),
    ],
)
def test_malformed_bodies_get_400_naming_the_problem_and_apply_nothing(
    served, payload, message
) -> None:  # type: ignore[no-untyped-def]
    server, url = served
    before = counts(url)
    response = post(server, "/webhooks/leads", payload, signed(payload))
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert counts(url) == before  # OK1/OK2/OK3 were valid but nothing of the body was applied


def hubspot_headers(
    server: RunningServer, body: bytes, *, secret: str = HUBSPOT_SECRET, age_ms: int = 0
) -> dict[str, str]:
    ts = str(int(time.time() * 1000) - age_ms)
    source = f"POST{server.url}/webhooks/hubspot{body.decode()}{ts}".encode()
    signature = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest())
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": ts,
        "X-HubSpot-Signature-v3": signature.decode(),
        "X-HubSpot-Signature-Version": "v3",
    }


def test_hubspot_property_change_events(served) -> None:  # type: ignore[no-untyped-def]
    server, url = served
    occurred = int(time.time() * 1000)
    events = [
        {
            "eventId": 1,
            "subscriptionId": 9,
            "portalId": 62515,
            "appId": 54321,
            "occurredAt": occurred,
            "subscriptionType": "contact.creation",
            "attemptNumber": 0,
            "objectId": 123,
            "changeSource": "CRM",
            "changeFlag": "NEW",
        },
        {
            "eventId": 2,
            "subscriptionId": 10,
            "portalId": 62515,
            "appId": 54321,
            "occurredAt": occurred + 1000,
            "subscriptionType": "contact.propertyChange",
            "attemptNumber": 0,
            "objectId": 123,
            "propertyName": "lifecyclestage",
            "propertyValue": "marketingqualifiedlead",
            "changeSource": "FORM",
        },
        {
            "eventId": 3,
            "subscriptionId": 11,
            "portalId": 62515,
            "appId": 54321,
            "occurredAt": occurred + 2000,
            "subscriptionType": "contact.propertyChange",
            "attemptNumber": 0,
            "objectId": 123,
            "propertyName": "email",
            "propertyValue": "hub@spot.io",
            "changeSource": "CRM",
        },
    ]
    body = json.dumps(events).encode()
    response = post(server, "/webhooks/hubspot", body, hubspot_headers(server, body))
    assert response.status_code == 200, response.text
    assert response.json()["leads"]["inserted"] == 1
    engine = make_engine(Settings(DATABASE_URL=url).database_url)
    with Session(engine) as session:
        lead = session.exec(select(Lead).where(Lead.external_id == "123")).scalar_one()
    assert (lead.source_system, lead.stage, lead.email) == ("hubspot", "mql", "hub@spot.io")
    assert lead.mql_at is not None and lead.created_at is not None
    forged = post(server, "/webhooks/hubspot", body, hubspot_headers(server, body, secret="x"))
    stale = post(server, "/webhooks/hubspot", body, hubspot_headers(server, body, age_ms=400_000))
    assert (forged.status_code, stale.status_code) == (401, 401)
    bad = json.dumps(
        [{"objectId": "abc", "occurredAt": occurred, "subscriptionType": "contact.propertyChange"}]
    ).encode()
    # an event that cannot be applied is set aside with its reason: HubSpot never retries a 4xx
    answered = post(server, "/webhooks/hubspot", bad, hubspot_headers(server, bad))
    assert answered.status_code == 200
    assert answered.json()["rejected"] == ["objectId: 'abc' is not a HubSpot record id"]
    not_a_list = post(server, "/webhooks/hubspot", b"{}", hubspot_headers(server, b"{}"))
    assert not_a_list.status_code == 400 and "JSON array" in not_a_list.json()["error"]


def hubspot_event(object_id: int, at: int, name: str, value: object, **extra: object) -> dict:
    """A property change as HubSpot documents it (legacy style unless `extra` says otherwise)."""
    return {
        "eventId": at,
        "subscriptionId": 4102,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": at,
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": object_id,
        "propertyName": name,
        "propertyValue": value,
        "changeSource": "CRM",
        "sourceId": "userId:8012345",
    } | extra


def send_events(server: RunningServer, events: list[dict]) -> httpx.Response:
    body = json.dumps(events).encode()
    return post(server, "/webhooks/hubspot", body, hubspot_headers(server, body))


def lead_of(url: str, object_id: str) -> Lead:
    engine = make_engine(Settings(DATABASE_URL=url).database_url)
    with Session(engine) as session:
        lead = session.exec(select(Lead).where(Lead.external_id == object_id)).scalar_one()
    engine.dispose()
    return lead


def test_generic_object_events_and_one_bad_event_that_loses_nothing(served) -> None:  # type: ignore[no-untyped-def]
    server, url = served
    t = int(time.time() * 1000)
    generic = {"subscriptionType": "object.propertyChange", "objectTypeId": "0-1"}
    events = [
        hubspot_event(701, t, "email", "ola@nord.no", **generic),
        {**hubspot_event(701, t, "", None), "subscriptionType": "object.creation",
         "objectTypeId": "0-1"},
        hubspot_event(701, t + 1, "lifecyclestage", "1029384756"),  # a custom stage id
        hubspot_event(701, t + 2, "hs_analytics_source", "SOCIAL_MEDIA", **generic),
        hubspot_event(701, t + 3, "hubspot_owner_id", "99999999"),  # nobody's owner id
        hubspot_event(9001, t, "dealstage", "closedwon", subscriptionType="object.propertyChange",
                      objectTypeId="0-3"),  # a deal: not a lead fact
    ]  # fmt: skip
    answer = send_events(server, events)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["leads"]["inserted"] == 1 and body["ignored"] == 1 and body["unowned"] == 1
    assert len(body["rejected"]) == 1
    assert '[crm.hubspot.stages], e.g. "1029384756" = "mql"' in body["rejected"][0]
    assert body["unmatched"] == [
        "owner '99999999' matches no rep: hubspot_owner_id = \"99999999\" on the rep, or "
        '[crm.hubspot.owners] "99999999" = "rep@yourco.com"'
    ]
    lead = lead_of(url, "701")
    # the CSV label "Organic Social" and the API value SOCIAL_MEDIA are one source
    assert (lead.email, lead.source, lead.owner_email, lead.crm_owner) == (
        "ola@nord.no",
        "organic_social",
        None,
        "99999999",
    )
    status = subprocess.run(
        [sys.executable, "-m", "bot", "status"],
        env={**os.environ, "DATABASE_URL": url, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert "1029384756" in status.stdout and '"99999999"' in status.stdout


def test_an_older_event_never_undoes_a_newer_one(served) -> None:  # type: ignore[no-untyped-def]
    server, url = served
    t = int(time.time() * 1000)
    newer = send_events(server, [hubspot_event(702, t, "lifecyclestage", "salesqualifiedlead")])
    assert newer.status_code == 200
    # HubSpot delivers an earlier change late, in its own request, and a batch out of order
    older = send_events(
        server,
        [
            hubspot_event(702, t - 5000, "company", "Newer Co"),
            hubspot_event(702, t - 60_000, "lifecyclestage", "marketingqualifiedlead"),
            hubspot_event(702, t - 9000, "company", "Older Co"),
        ],
    )
    assert older.status_code == 200 and older.json()["ignored"] == 1
    lead = lead_of(url, "702")
    assert (lead.stage, lead.company) == ("sql", "Newer Co")  # sorted by occurredAt


def record_event(object_id: int, at: int, kind: str, **extra: object) -> dict:
    """A deletion, privacy deletion, restore or merge as HubSpot documents it (no property)."""
    event = hubspot_event(object_id, at, "", None, subscriptionType=f"contact.{kind}")
    del event["propertyName"], event["propertyValue"]
    return event | extra


def epoch_ms(value: datetime) -> int:
    """A stored time (naive UTC from SQLite, aware from PostgreSQL) in epoch milliseconds."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return round(aware.timestamp() * 1000)


def touches_of(url: str, object_id: str) -> list[Touch]:
    engine = make_engine(Settings(DATABASE_URL=url).database_url)
    with Session(engine) as session:
        found = session.exec(
            select(Touch).join(Lead, Lead.id == Touch.lead_id).where(Lead.external_id == object_id)
        ).scalars()
        touches = list(found)
    engine.dispose()
    return touches


def test_a_prospect_s_own_engagement_is_no_touch_and_unread_properties_store_nothing(
    served,
) -> None:  # type: ignore[no-untyped-def]
    server, url = served
    t = int(time.time() * 1000)
    before = counts(url)
    answer = send_events(
        server,
        [
            hubspot_event(810, t, "lifecyclestage", "marketingqualifiedlead"),
            # HubSpot: "the last time a contact engaged with your site or a form, document,
            # meetings link, or tracked email" -- the prospect acted, not the rep
            hubspot_event(810, t + 1, "hs_last_sales_activity_timestamp", str(t + 1)),
            hubspot_event(810, t + 2, "hs_sales_email_last_opened", str(t + 2)),
            hubspot_event(811, t, "firstname", "Ada"),  # a property slabot does not keep
            # the webhook settings' Test button: a creation of contact 123 and nothing more
            record_event(123_456_789, t, "creation", changeFlag="NEW"),
        ],
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["leads"]["inserted"] == 1
    assert counts(url) == (before[0] + 1, before[1])  # 810 only, and no touch
    assert lead_of(url, "810").first_touch_at is None
    # a rep's logged call is (HubSpot's Last Contacted)
    send_events(server, [hubspot_event(810, t + 3, "notes_last_contacted", str(t + 3))])
    assert [epoch_ms(x.touched_at) for x in touches_of(url, "810")] == [t + 3]


def test_deleted_erased_restored_and_merged_contacts(served) -> None:  # type: ignore[no-untyped-def]
    server, url = served
    t = int(time.time() * 1000)
    setup = [
        hubspot_event(820, t, "lifecyclestage", "marketingqualifiedlead"),
        hubspot_event(821, t, "lifecyclestage", "marketingqualifiedlead"),
        hubspot_event(821, t, "email", "erase.me@prospect.io"),
        hubspot_event(821, t, "company", "Private GmbH"),
        hubspot_event(830, t - 7_200_000, "lifecyclestage", "marketingqualifiedlead"),
        hubspot_event(831, t - 3_600_000, "lifecyclestage", "marketingqualifiedlead"),
        hubspot_event(831, t - 3_600_000, "email", "dup@prospect.io"),
        hubspot_event(831, t - 60_000, "notes_last_contacted", str(t - 60_000)),
    ]
    assert send_events(server, setup).status_code == 200
    before = counts(url)
    answer = send_events(
        server,
        [
            record_event(820, t + 1000, "deletion", changeFlag="DELETED"),
            record_event(821, t + 1000, "privacyDeletion"),
            record_event(821, t + 1000, "deletion", changeFlag="DELETED"),
            record_event(
                830, t + 2000, "merge", primaryObjectId=830, mergedObjectIds=[831],
                newObjectId=832, numberOfPropertiesMoved=3,
            ),
            record_event(899, t + 3000, "deletion"),  # never stored here: nothing to do
        ],
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["leads"] == {"inserted": 0, "updated": 3, "unchanged": 0}
    deleted = lead_of(url, "820")
    assert (deleted.outcome, deleted.closed_at is not None) == ("deleted", True)
    erased = lead_of(url, "821")
    assert (erased.email, erased.company, erased.name, erased.mql_at is not None) == (
        None,
        None,
        None,
        True,
    )
    merged = lead_of(url, "832")
    assert merged.email == "dup@prospect.io"  # the survivor lacked one
    assert epoch_ms(merged.mql_at) == t - 7_200_000  # the earliest hand-off
    assert len(touches_of(url, "832")) == 1
    assert counts(url) == (before[0] - 1, before[1])  # two leads became one; the touch kept
    restored = send_events(server, [record_event(820, t + 4000, "restore")])
    assert restored.json()["leads"]["updated"] == 1
    assert (lead_of(url, "820").outcome, lead_of(url, "820").closed_at) == (None, None)


@pytest.mark.parametrize(
    ("query", "signed_as"),
    [
        # HubSpot decodes only %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B before signing
        ("?name=a%20b", "?name=a%20b"),
        ("?q=x%26y%3Dz%2Bw", "?q=x%26y%3Dz%2Bw"),
        ("?json=%7B%22k%22%7D&u=%C3%BC", "?json=%7B%22k%22%7D&u=%C3%BC"),
        ("?return=https%3A%2F%2Fa.io%2Fp%3Fx%40y%21%24%27%28%29%2A%2C%3B",
         "?return=https://a.io/p?x@y!$'()*,;"),
        ("?mixed=%3a%2f%20", "?mixed=:/%20"),  # escapes in either case
    ],
)  # fmt: skip
def test_v3_signatures_agree_with_hubspot_s_own_validator(served, query, signed_as) -> None:  # type: ignore[no-untyped-def]
    from hubspot.utils.signature import Signature

    server, _ = served
    body = json.dumps([hubspot_event(703, int(time.time() * 1000), "company", "Sig Co")])
    ts = str(int(time.time() * 1000))
    signature = Signature.get_signature(
        HUBSPOT_SECRET,
        body,
        "v3",
        http_uri=f"{server.url}/webhooks/hubspot{signed_as}",
        http_method="POST",
        timestamp=ts,
    )
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": ts,
        "X-HubSpot-Signature-v3": signature,
    }
    sent = httpx.post(
        f"{server.url}/webhooks/hubspot{query}", content=body.encode(), headers=headers, timeout=10
    )
    assert sent.status_code == 200, sent.text
    forged = dict(headers, **{"X-HubSpot-Signature-v3": "sïgnätüre=="})
    refused = httpx.post(
        f"{server.url}/webhooks/hubspot{query}",
        content=body.encode(),
        headers={k: v.encode() for k, v in forged.items()},
        timeout=10,
    )
    assert refused.status_code == 401


def test_concurrent_identical_deliveries_store_one_lead(
    engine,
    database_url: str,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    fake = FakeSlack().start()
    env = slabot_env(database_url, fake, SLABOT_WEBHOOK_SECRET=SECRET, WEB_CONCURRENCY="4")
    server = start_app(env, tmp_path / "serve.log")
    try:
        body = json.dumps(
            {
                "leads": [{"lead_id": "RACE1", "email": "r@a.io", "mql_at": "2026-11-20T14:00Z"}],
                "touches": [{"lead_id": "RACE1", "touched_at": "2026-11-20T15:00Z"}],
            }
        ).encode()
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(lambda _: post(server, "/webhooks/leads", body, signed(body)), range(8))
            )
        assert [answer.status_code for answer in answers] == [200] * 8, [a.text for a in answers]
        inserted = sum(answer.json()["leads"]["inserted"] for answer in answers)
        assert inserted == 1 and counts(database_url) == (1, 1)
    finally:
        stop_server(server)
        fake.stop()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_extensions_are_not_json(served, constant: str) -> None:  # type: ignore[no-untyped-def]
    """Python would parse them, PostgreSQL would refuse to store them: a 400, nothing kept."""
    server, _ = served
    text = f'[{{"objectId": 1, "propertyName": "hs_lead_status", "propertyValue": {constant}}}]'
    body = text.encode()
    answer = post(server, "/webhooks/hubspot", body, hubspot_headers(server, body))
    assert answer.status_code == 400 and f"{constant} is not a JSON value" in answer.text


@pytest.mark.parametrize(
    "bad",
    [
        hubspot_event(40_900, 0, "notes_last_contacted", "9999999999999999"),  # year 318,857
        hubspot_event(40_900, 0, "notes_last_contacted", "¹²³"),  # digits to str.isdigit only
    ],
)
def test_one_bad_value_in_a_batch_of_901_loses_nothing_else(served, bad: dict) -> None:  # type: ignore[no-untyped-def]
    """900 good events and one whose value is no time: 900 applied, one rejected with its
    reason; NUL bytes and a lone surrogate in the good ones are cleaned, not refused."""
    server, url = served
    t = int(time.time() * 1000)
    base = 41_000 + (0 if bad["propertyValue"].isascii() else 1_000)
    good = [
        hubspot_event(base + n, t, "company", f"Good\x00 Co {n}" if n % 2 else f"Co \ud800{n}")
        for n in range(900)
    ]
    body = json.dumps([*good, {**bad, "occurredAt": t}]).encode()  # \u0000, \ud800 escaped
    answer = post(server, "/webhooks/hubspot", body, hubspot_headers(server, body))
    assert answer.status_code == 200, answer.text
    assert answer.json()["leads"]["inserted"] == 900
    [reason] = answer.json()["rejected"]
    assert "is not a time in epoch milliseconds" in reason
    assert lead_of(url, str(base + 1)).company == "Good Co 1"
    assert lead_of(url, str(base + 2)).company == "Co \ufffd2"


def test_nul_bytes_in_the_native_feed_are_cleaned(served) -> None:  # type: ignore[no-untyped-def]
    server, url = served
    lead = {"lead_id": "NUL1\u0000", "email": "n\u0000@x.io", "company": "A\u0000B",
            "source": "web\u0000site", "mql_at": "2026-11-20T14:00:00Z"}  # fmt: skip
    payload = {"leads": [lead]}
    body = json.dumps(payload).encode()
    answer = post(server, "/webhooks/leads", body, signed(body))
    assert answer.status_code == 200, answer.text
    engine = make_engine(Settings(DATABASE_URL=url).database_url)
    with Session(engine) as session:
        stored = session.exec(select(Lead).where(Lead.external_id == "NUL1")).scalar_one()
    engine.dispose()
    assert (stored.email, stored.company, stored.source) == ("n@x.io", "AB", "website")
