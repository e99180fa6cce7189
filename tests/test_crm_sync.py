"""Live CRM sync and write-back, against local stand-ins of HubSpot's and Salesforce's APIs
(their documented request and response shapes): a call logged in the CRM a minute ago stops
the next tick's alert; a sync killed mid-pass stores every record once on the next pass;
Contacted in Slack writes exactly one note or Task, through a 429."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text

from bot.intake.hubspot.search import PAGE
from bot.settings import Settings
from tests.conftest import (
    RunningServer,
    engine_for,
    slabot_env,
    start_app,
    stop_server,
    wait_for,
)
from tests.fake_crm import (
    HUBSPOT_RATE_LIMIT,
    FakeHubSpot,
    FakeSalesforce,
    https_context,
    iso_ms,
    self_signed,
)
from tests.fake_slack import FakeSlack
from tests.signing import block_action_body, signed_headers
from tests.test_alert_actions import always_open_agreement

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
SIX_HOURS_AGO = datetime.now(UTC) - timedelta(hours=6)
NEW_YORK = ZoneInfo("America/New_York")  # Rita's calendar in the example agreement


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot(TOKEN).start()
    fake.add_owner("31425364", "rita@example.com", "Rita", "Reyes")
    fake.add_owner("31425365", "sam@example.com", "Sam", "Stone")
    yield fake
    fake.released.set()
    fake.stop()


@pytest.fixture
def salesforce(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSalesforce]:
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # trust the stand-in's certificate
    fake = FakeSalesforce(batch=3).start(https_context(cert, key))
    fake.put("User", "0055e000001RitaAAA", Email="rita@example.com")
    fake.put("User", "0055e000001SamXAAA", Email="sam@example.com")
    yield fake
    fake.stop()


def crm_env(crm: str, stand: FakeHubSpot | FakeSalesforce) -> dict[str, str]:
    if crm == "hubspot":
        return {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_API_URL": stand.url}
    assert isinstance(stand, FakeSalesforce)
    return {
        "SALESFORCE_LOGIN_URL": stand.url,
        "SALESFORCE_USERNAME": stand.username,
        "SALESFORCE_PASSWORD": "pw+",
        "SALESFORCE_SECURITY_TOKEN": "token",
        "SALESFORCE_CONSUMER_KEY": stand.consumer_key,
        "SALESFORCE_CONSUMER_SECRET": stand.consumer_secret,
        "REQUESTS_CA_BUNDLE": os.environ["REQUESTS_CA_BUNDLE"],
    }


def two_breached_leads(crm: str, stand: FakeHubSpot | FakeSalesforce) -> tuple[str, str]:
    """Two MQLs of Rita's, assigned six hours ago, untouched: both breach the 4h first touch."""
    if isinstance(stand, FakeHubSpot):
        for contact, company in (("101", "Acme"), ("102", "Globex")):
            stand.upsert_contact(
                contact,
                at=SIX_HOURS_AGO,
                firstname="Jane",
                lastname=company,
                company=company,
                email=f"jane@{company.lower()}.example",
                lifecyclestage="marketingqualifiedlead",
                hs_lifecyclestage_marketingqualifiedlead_date=iso_ms(SIX_HOURS_AGO),
                hubspot_owner_id="31425364",
                hubspot_owner_assigneddate=iso_ms(SIX_HOURS_AGO),
                hs_lead_status="NEW",
                hs_analytics_source="ORGANIC_SEARCH",
            )
        return "101", "102"
    ids = []
    for company in ("Acme", "Globex"):
        ids.append(stand.put(
            "Lead", stand.new_id("00Q"), at=SIX_HOURS_AGO, FirstName="Jane", LastName=company,
            Company=company, Email=f"jane@{company.lower()}.example", LeadSource="Web",
            Status="Open - Not Contacted", OwnerId="0055e000001RitaAAA", IsConverted=False,
        ))  # fmt: skip
    return ids[0], ids[1]


def log_call(stand: FakeHubSpot | FakeSalesforce, lead: str, at: datetime) -> None:
    if isinstance(stand, FakeHubSpot):
        stand.log_call(lead, at)
    else:
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        stand.put("Task", stand.new_id("00T"), WhoId=lead, OwnerId="0055e000001RitaAAA",
                  Subject="Call", TaskSubtype="Call", Status="Completed", IsClosed=True,
                  CompletedDateTime=stamp)  # fmt: skip


def prepared(tmp_path: Path, database_url: str, fake_slack: FakeSlack, extra: dict[str, str]):  # type: ignore[no-untyped-def]
    from bot.services.agreements import apply_agreement
    from storage.migrate import upgrade

    env = slabot_env(database_url, fake_slack, **extra)
    engine = engine_for(database_url)
    upgrade(engine)
    apply_agreement(engine, always_open_agreement(tmp_path).read_text(), applied_by="test")
    keys = ("SLACK_", "DATABASE", "HUBSPOT_", "SALESFORCE_")
    settings = Settings(**{k: v for k, v in env.items() if k.startswith(keys)})
    return env, engine, settings


def dm_text(fake: FakeSlack) -> str:
    return json.dumps([m for (channel, _), m in fake.messages.items() if channel == "D0RITA"])


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_a_call_logged_in_the_crm_stops_the_next_ticks_alert(  # type: ignore[no-untyped-def]
    crm, request, tmp_path: Path, fake_slack: FakeSlack, database_url: str
) -> None:
    from bot.intake.sync import sync
    from bot.scheduler import build_scheduler

    stand = request.getfixturevalue(crm)
    _, engine, settings = prepared(tmp_path, database_url, fake_slack, crm_env(crm, stand))
    called, _ = two_breached_leads(crm, stand)
    [first] = sync(engine, settings)  # both leads stored, nobody has called them
    assert (first.leads.inserted, first.touches, first.error) == (2, 0, None)
    log_call(stand, called, datetime.now(UTC) - timedelta(minutes=1))

    scheduler = BackgroundScheduler(timezone=UTC)
    build_scheduler(settings, engine, scheduler)
    scheduler.get_job("breach_scan").func()  # the tick: the sync, then the scan
    scheduler.get_job("delivery").func()
    shown = dm_text(fake_slack)
    assert "Globex" in shown, shown
    assert "Acme" not in shown, shown  # the CRM already says it was called
    with engine.connect() as connection:
        touched = connection.execute(
            text("SELECT first_touch_at FROM lead WHERE external_id = :e"), {"e": called}
        ).scalar_one()
    assert touched is not None
    engine.dispose()


def test_a_sync_killed_mid_pass_stores_every_record_once_on_the_next_pass(  # type: ignore[no-untyped-def]
    hubspot: FakeHubSpot, tmp_path: Path, fake_slack: FakeSlack, database_url: str
) -> None:
    env, engine, _ = prepared(tmp_path, database_url, fake_slack, crm_env("hubspot", hubspot))
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    for n in range(1, 3001):  # 3,000 contacts, each changed a second after the other
        at = start + timedelta(seconds=n)
        hubspot.upsert_contact(
            str(1000 + n), at=at, lastname=f"Lead {n}", lifecyclestage="marketingqualifiedlead",
            hubspot_owner_id="31425364", hs_lifecyclestage_marketingqualifiedlead_date=iso_ms(at),
            **({"notes_last_contacted": iso_ms(at + timedelta(minutes=5))} if n % 3 == 0 else {}),
        )  # fmt: skip
    hubspot.stall("/contacts/search", after=10)  # then every search hangs: the pass is killed
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "sync", "--crm", "hubspot"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def stored_some() -> bool:
        with engine.connect() as connection:
            return bool(connection.execute(text("SELECT count(*) FROM sync_cursor")).scalar())

    wait_for(stored_some, 30, "a first batch stored with its cursor")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM lead")).scalar_one()
        cursor = connection.execute(text("SELECT position FROM sync_cursor")).scalar()
    assert 0 < stored < 3000, stored  # part of the pass was stored and its cursor moved
    assert cursor is not None

    hubspot.released.set()
    hubspot._stall = None
    time.sleep(2)  # the killed pass's reader process hands what it had asked for to nobody
    # and stops: its searches side by side finish the pages they were waiting for, then no
    # more is asked
    settled = len(hubspot.calls_to("/contacts/search"))
    time.sleep(1.5)
    assert len(hubspot.calls_to("/contacts/search")) == settled
    again = subprocess.run(
        [sys.executable, "-m", "bot", "sync", "--crm", "hubspot"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Traceback" not in again.stdout + again.stderr
    with engine.connect() as connection:
        leads, distinct = connection.execute(
            text("SELECT count(*), count(DISTINCT external_id) FROM lead")
        ).one()
        touches = connection.execute(text("SELECT count(*) FROM touch")).scalar_one()
        position = connection.execute(text("SELECT position FROM sync_cursor")).scalar()
    assert (leads, distinct) == (3000, 3000)
    assert touches == 1000  # every third contact was called, each call kept once
    last = start + timedelta(seconds=3000)
    assert str(position).startswith(last.strftime("%Y-%m-%d %H:%M:%S")), position
    # a third pass reads only the last change again (idempotently) and stores nothing new
    third = subprocess.run([sys.executable, "-m", "bot", "sync"], env=env, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert "1 records read, 0 new, 0 updated, 1 unchanged" in third.stdout, third.stdout
    engine.dispose()


def test_a_refusal_mid_pass_in_the_reader_process_ends_the_pass_with_its_reason(  # type: ignore[no-untyped-def]
    hubspot: FakeHubSpot, tmp_path: Path, fake_slack: FakeSlack, database_url: str
) -> None:
    """`slabot sync` reads HubSpot's pages in a process of its own: HubSpot's refusal there
    reaches the pass as HubSpot's own reason; what was stored stays, and the next pass goes on
    from the cursor."""
    from tests.cli_runner import run_slabot

    env, engine, _ = prepared(tmp_path, database_url, fake_slack, crm_env("hubspot", hubspot))
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    for n in range(1, 1501):
        hubspot.upsert_contact(str(7000 + n), at=start + timedelta(seconds=n), lastname=f"L{n}",
                               hubspot_owner_id="31425364")  # fmt: skip
    # 200 a page: pages 1-5 are the first thousand, page 6 of 8 is refused
    hubspot.fail("/contacts/search", 403, skip=5, body={"status": "error", "message": "Forbidden"})
    first = run_slabot("sync", env=env)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "1,000 new" in first.stdout, first.stdout  # the first thousand, stored with the cursor
    assert "ended early: HubSpot refused HUBSPOT_ACCESS_TOKEN (403: Forbidden)" in first.stdout
    again = run_slabot("sync", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "500 new" in again.stdout, again.stdout
    with engine.connect() as connection:
        assert (
            connection.execute(text("SELECT count(DISTINCT external_id) FROM lead")).scalar()
            == 1500
        )
    engine.dispose()


@pytest.fixture
def serving(request, tmp_path: Path, fake_slack: FakeSlack, database_url: str):  # type: ignore[no-untyped-def]
    """Leads synced from the CRM, their breach DM delivered, `slabot serve` with the CRM set."""
    from bot.flows.alerts import scan_and_deliver
    from bot.intake.sync import sync
    from bot.slack.render import Renderer

    crm = request.param
    stand = request.getfixturevalue(crm)
    env, engine, settings = prepared(tmp_path, database_url, fake_slack, crm_env(crm, stand))
    leads = two_breached_leads(crm, stand)
    sync(engine, settings)
    scan_and_deliver(engine, Renderer(), settings, now=datetime.now(UTC))
    with engine.connect() as connection:
        ids = dict(connection.execute(text("SELECT external_id, id FROM lead")).all())
    engine.dispose()
    server = start_app(env, tmp_path / "serve.log")
    yield crm, stand, server, env, [ids[lead] for lead in leads]
    stop_server(server)
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log


def press_contacted(server: RunningServer, fake: FakeSlack, lead_id: int) -> None:
    [(channel, ts)] = [key for key in fake.messages if key[0] == "D0RITA"]
    body = block_action_body("sla_contacted", str(lead_id), response_url=fake.response_url("a"),
                             user_id="U0RITA", channel=channel, message_ts=ts,
                             ephemeral=False)  # fmt: skip
    for _ in range(2):  # a double-click: one press
        response = server.post("/slack/events", body, signed_headers(body))
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("serving", ["hubspot", "salesforce"], indirect=True)
def test_contacted_writes_exactly_one_crm_record_through_a_rate_limit(  # type: ignore[no-untyped-def]
    serving, fake_slack: FakeSlack
) -> None:
    """A Contacted press is logged as a rep logs a call — a completed HubSpot call owned by the
    rep (which moves Last Contacted), a Salesforce call Task on the rep's own date — once,
    through a rate-limit refusal; the next sync recognises it and counts no second touch."""
    from bot.intake.sync import sync

    crm, stand, server, env, (lead_id, _) = serving
    if crm == "hubspot":
        stand.fail("POST /crm/v3/objects/calls", 429, body=HUBSPOT_RATE_LIMIT)  # no Retry-After
    else:
        # Salesforce refuses a call past a request limit with 403 REQUEST_LIMIT_EXCEEDED
        stand.fail("POST /services/data/v62.0/sobjects/Task", 403, body=[
            {"message": "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
             "errorCode": "REQUEST_LIMIT_EXCEEDED"}])  # fmt: skip
    days = {datetime.now(NEW_YORK).date().isoformat()}  # Rita's own day, at the press
    press_contacted(server, fake_slack, lead_id)
    days.add(datetime.now(NEW_YORK).date().isoformat())
    if crm == "hubspot":
        wait_for(lambda: stand.logged_calls and stand.contacts["101"]["hs_lead_status"] != "NEW")
        [call] = stand.logged_calls.values()
        props = call["properties"]
        assert call["contact"] == "101" and not stand.notes
        assert (props["hs_call_status"], props["hs_call_direction"], props["hubspot_owner_id"]) == (
            "COMPLETED",
            "OUTBOUND",
            "31425364",  # Rita, who pressed
        )
        assert "Contacted — marked in Slack by rita@example.com" in props["hs_call_body"]
        assert stand.contacts["101"]["notes_last_contacted"] == props["hs_timestamp"]
        assert stand.contacts["101"]["hs_lead_status"] == "ATTEMPTED_TO_CONTACT"
        assert len(stand.calls_to("POST /crm/v3/objects/calls")) == 2  # 429, then 201
    else:
        lead = next(iter(stand.records["Lead"]))
        wait_for(
            lambda: (
                stand.records["Task"]
                and stand.records["Lead"][lead]["Status"] != "Open - Not Contacted"
            )
        )
        [task] = stand.records["Task"].values()
        assert (task["WhoId"], task["Status"], task["OwnerId"], task["TaskSubtype"]) == (
            lead,
            "Completed",
            "0055e000001RitaAAA",
            "Call",
        )
        assert task["ActivityDate"] in days  # New York's date, not UTC's
        assert stand.records["Lead"][lead]["Status"] == "Working - Contacted"
    engine = engine_for(env["DATABASE_URL"])
    wait_for(lambda: _crm_items(engine) == [("sent", 1)])  # the refusal was waited out in place
    keys = ("SLACK_", "DATABASE", "HUBSPOT_", "SALESFORCE_")
    sync(engine, Settings(**{k: v for k, v in env.items() if k.startswith(keys)}))
    with engine.connect() as connection:
        touches = connection.execute(
            text("SELECT count(*) FROM touch WHERE lead_id = :id"), {"id": lead_id}
        ).scalar_one()
    assert touches == 1  # the press; its call or Task read back is that same touch
    engine.dispose()


@pytest.mark.parametrize("serving", ["hubspot", "salesforce"], indirect=True)
def test_the_status_written_is_one_the_crm_has(serving, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    """An org on the newer default Lead Status set has no `Working - Contacted`: the status
    written is the CRM's own contacted value (`Working`); a portal with none that says
    contacted is refused once, with the setting that chooses one."""
    crm, stand, server, env, (lead_id, _) = serving
    engine = engine_for(env["DATABASE_URL"])
    if crm == "salesforce":
        stand.lead_statuses = ["New", "Working", "Nurturing", "Qualified", "Unqualified"]
        for record in stand.records["Lead"].values():
            record["Status"] = "New"
        press_contacted(server, fake_slack, lead_id)
        lead = next(iter(stand.records["Lead"]))
        wait_for(lambda: stand.records["Lead"][lead]["Status"] == "Working")
        wait_for(lambda: _crm_items(engine) == [("sent", 1)])
    else:
        stand.lead_statuses = {"NEW": "New", "BAD_TIMING": "Bad Timing"}
        press_contacted(server, fake_slack, lead_id)
        wait_for(lambda: [status for status, _ in _crm_items(engine)] == ["failed"])
        with engine.connect() as connection:
            error = connection.execute(
                text("SELECT last_error FROM outbox WHERE kind = 'crm'")
            ).scalar_one()
        assert "[crm.hubspot] contacted_status" in error and "NEW, BAD_TIMING" in error, error
        assert len(stand.logged_calls) == 1  # the call is logged all the same
        assert stand.contacts["101"]["hs_lead_status"] == "NEW"
    engine.dispose()


def _crm_items(engine) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT status, attempts FROM outbox WHERE kind = 'crm'"))
        return [(status, attempts) for status, attempts in rows]


def test_expired_sessions_and_a_5xx_mid_sync_lose_nothing(  # type: ignore[no-untyped-def]
    salesforce: FakeSalesforce, hubspot: FakeHubSpot, tmp_path: Path, fake_slack: FakeSlack,
    database_url: str,
) -> None:  # fmt: skip
    from bot.intake.sync import sync

    extra = {**crm_env("salesforce", salesforce), **crm_env("hubspot", hubspot)}
    _, engine, settings = prepared(tmp_path, database_url, fake_slack, extra)
    leads = [salesforce.put("Lead", salesforce.new_id("00Q"),
                            at=SIX_HOURS_AGO + timedelta(seconds=n), LastName=f"L{n}",
                            Company=f"Co {n}", Status="Open - Not Contacted",
                            OwnerId="0055e000001RitaAAA") for n in range(8)]  # fmt: skip
    for n in range(250):
        hubspot.upsert_contact(str(500 + n), at=SIX_HOURS_AGO + timedelta(seconds=n),
                               lastname=f"C{n}", hubspot_owner_id="31425365")  # fmt: skip
    salesforce.sessions_expire_after(2)  # mid-pass: the next call meets INVALID_SESSION_ID
    salesforce.fail(
        "/query/", 503, skip=1, body=[{"message": "down", "errorCode": "SERVER_UNAVAILABLE"}]
    )
    hubspot.fail(
        "/contacts/search", 502, skip=1, body={"status": "error", "message": "Bad Gateway"}
    )
    reports = {r.crm: r for r in sync(engine, settings)}
    assert (reports["salesforce"].error, reports["salesforce"].leads.inserted) == (None, 8)
    assert len(salesforce.calls_to("/services/oauth2/token")) == 2  # the session renewed
    assert (reports["hubspot"].error, reports["hubspot"].leads.inserted) == (None, 250)
    with engine.connect() as connection:
        stored = dict(connection.execute(text(
            "SELECT source_system, count(DISTINCT external_id) FROM lead GROUP BY source_system"
        )).all())  # fmt: skip
        synced = sorted(connection.execute(text(
            "SELECT external_id FROM lead WHERE source_system = 'salesforce'"
        )).scalars())  # fmt: skip
    assert stored == {"hubspot": 250, "salesforce": 8}
    assert synced == sorted(leads)
    engine.dispose()


def test_a_value_nobody_maps_keeps_the_record_and_says_what_to_configure(  # type: ignore[no-untyped-def]
    salesforce: FakeSalesforce, hubspot: FakeHubSpot, tmp_path: Path, fake_slack: FakeSlack,
    database_url: str,
) -> None:  # fmt: skip
    """An owner id no rep or CRM user has, a portal's own lead status, a queue owning a
    Salesforce lead: every record is kept (unowned where the owner is unknown) and the pass
    names the agreement line that maps each value."""
    from bot.intake.sync import sync

    extra = {**crm_env("salesforce", salesforce), **crm_env("hubspot", hubspot)}
    _, engine, settings = prepared(tmp_path, database_url, fake_slack, extra)
    hubspot.upsert_contact("701", lastname="Known", hubspot_owner_id="31425364",
                           hs_lead_status="CONNECTED")  # fmt: skip
    hubspot.upsert_contact("702", lastname="Stranger", hubspot_owner_id="99999999",
                           hs_lead_status="Nurture - Q3")  # fmt: skip
    queue_lead = salesforce.put("Lead", salesforce.new_id("00Q"), LastName="Queued",
                                Company="Initech", Status="Open - Not Contacted",
                                OwnerId="00G5e000000QueueAAA")  # fmt: skip
    reports = {r.crm: r for r in sync(engine, settings)}
    hub, sf = reports["hubspot"], reports["salesforce"]
    assert (hub.error, hub.leads.inserted, sf.error, sf.leads.inserted) == (None, 2, None, 1)
    assert hub.fixes() == [
        "owner '99999999' (1 record) matches nothing: hubspot_owner_id = \"99999999\" on the "
        'rep, or [crm.hubspot.owners] "99999999" = "rep@yourco.com"',
        "lead_status 'Nurture - Q3' (1 record) matches nothing: [crm.hubspot.lead_statuses] "
        '"Nurture - Q3" = { stage = "recycled", contacted = true }  # worked, then handed back '
        "to marketing: recycled",
    ]
    assert sf.fixes()[0].startswith("owner '00G5e000000QueueAAA' (1 record) matches nothing")
    with engine.connect() as connection:
        owners = dict(connection.execute(text(
            "SELECT external_id, owner_email FROM lead ORDER BY external_id")).all())  # fmt: skip
    assert owners == {"701": "rita@example.com", "702": None, queue_lead: None}
    engine.dispose()


def test_the_reader_process_maps_and_a_record_it_cannot_read_is_kept_as_rejected(  # type: ignore[no-untyped-def]
    hubspot: FakeHubSpot, tmp_path: Path, fake_slack: FakeSlack, database_url: str
) -> None:
    """`slabot sync` maps contacts in its reader process: what it hands over is what the
    mapping made of them — a lead with its owner, one kept unowned with the line that maps
    its owner, and one it cannot read kept as a rejected event naming the contact and the
    property."""
    from tests.cli_runner import run_slabot

    env, engine, _ = prepared(tmp_path, database_url, fake_slack, crm_env("hubspot", hubspot))
    hubspot.upsert_contact("801", lastname="Known", email="kim@acme.example",
                           hubspot_owner_id="31425364")  # fmt: skip
    hubspot.upsert_contact("802", lastname="Stranger", hubspot_owner_id="99999999")
    hubspot.upsert_contact("803", lastname="Broken", email="not an address",
                           hubspot_owner_id="31425364")  # fmt: skip
    done = run_slabot("sync", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 records read, 2 new" in done.stdout, done.stdout
    assert "1 rejected (kept; see `slabot status`)" in done.stdout, done.stdout
    assert "owner '99999999' (1 record) matches nothing" in done.stdout, done.stdout
    with engine.connect() as connection:
        owners = dict(connection.execute(text("SELECT external_id, owner_email FROM lead")).all())
        [(reason, event)] = connection.execute(
            text("SELECT reason, event FROM rejected_event WHERE source_system = 'hubspot'")
        ).all()
    assert owners == {"801": "rita@example.com", "802": None}
    assert reason == "contact 803: email: 'not an address' is not an email address"
    event = json.loads(event) if isinstance(event, str) else event
    assert (event["hs_object_id"], event["lastname"]) == ("803", "Broken")
    engine.dispose()


def test_hubspot_is_read_as_its_spec_documents_it(hubspot: FakeHubSpot) -> None:
    """Opaque paging cursors (`"NTI1Cg%3D%3D"` in HubSpot's spec), search pages of 200 (the
    spec's "up to 200 objects"), owners paged (`limit`, `after`) and archived owners asked for
    apart (`archived=true` answers those alone)."""
    from bot.intake.hubspot.api import HubSpotApi

    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    for n in range(1, 451):
        hubspot.upsert_contact(str(5000 + n), at=start + timedelta(seconds=n), lastname=f"L{n}")
    for n in range(600):  # with the two of the fixture, more owners than one page of 500
        hubspot.add_owner(str(40_000_000 + n), f"rep{n}@example.com")
    hubspot.add_owner("39999999", "gone@example.com", archived=True)
    api = HubSpotApi(TOKEN, hubspot.url)
    pages = list(api.changed_contacts(None))
    assert [len(page.contacts) for page in pages] == [200, 200, 50]
    sent = [call.body for call in hubspot.calls_to("/contacts/search")]
    assert [body["limit"] for body in sent] == [200, 200, 200]
    assert sent[1]["after"] == "MjAwCg%3D%3D"  # passed back exactly as HubSpot gave it
    owners = api.owners()
    assert len(owners) == 603 and owners["39999999"] == "gone@example.com"
    asked = [(c.query.get("archived"), c.query.get("after")) for c in hubspot.calls_to("owners")]
    assert asked == [(["false"], None), (["false"], ["NTAwCg%3D%3D"]), (["true"], None)]


def test_hubspot_calls_are_paced_by_its_rate_limit_headers(hubspot: FakeHubSpot) -> None:
    """HubSpot says how many calls its window has left (`X-HubSpot-RateLimit-Remaining`) and
    how long the window is; a 429 may come without `Retry-After`. slabot sends nothing while the
    window is full, so HubSpot never has to refuse it."""
    from bot.intake.hubspot.api import HubSpotApi

    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    for n in range(1, 1201):
        hubspot.upsert_contact(str(6000 + n), at=start + timedelta(seconds=n), lastname=f"L{n}")
    hubspot.limit_rate(2, per_ms=400)
    pages = list(HubSpotApi(TOKEN, hubspot.url).changed_contacts(None))
    assert sum(len(page.contacts) for page in pages) == 1200
    assert hubspot.refused == 0
    # a refusal without Retry-After is waited out for the window's length, then read through
    hubspot.fail("/contacts/search", 429, body=HUBSPOT_RATE_LIMIT,
                 headers={"X-HubSpot-RateLimit-Interval-Milliseconds": "400"})  # fmt: skip
    began = time.monotonic()
    again = list(HubSpotApi(TOKEN, hubspot.url).changed_contacts(None))
    assert sum(len(page.contacts) for page in again) == 1200
    assert time.monotonic() - began >= 0.4


def test_a_large_hubspot_read_goes_side_by_side_within_its_search_limit(
    hubspot: FakeHubSpot,
) -> None:
    """HubSpot's search takes five requests a second (one in flight at a time cannot use
    them: each waits its round trip). 3,000 changes, two thirds in the first minutes and the
    rest spread over a month, are read by searches side by side in time slices: every contact,
    HubSpot never refusing a call, and each page's position one a later pass may start from
    (no contact modified before it is left unread)."""
    from bot.intake.hubspot.api import HubSpotApi

    start = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    times = [start + timedelta(seconds=n) for n in range(2000)]
    times += [start + timedelta(days=1, minutes=43 * n) for n in range(1000)]
    for n, at in enumerate(times):
        hubspot.upsert_contact(str(70_000 + n), at=at, lastname=f"L{n}")
    hubspot.limit_rate(5, per_ms=1000)
    hubspot.latency = 0.05

    pages = list(HubSpotApi(TOKEN, hubspot.url).changed_contacts(None))

    read = [contact for page in pages for contact in page.contacts]
    assert {contact["id"] for contact in read} == {str(70_000 + n) for n in range(3000)}
    assert len(read) < 3000 + 2 * PAGE  # a split span reads at most a page again
    assert hubspot.refused == 0 and hubspot.most_in_flight > 1
    seen: set[str] = set()
    for page in pages:  # everything modified before a page's position was read by then
        seen |= {contact["id"] for contact in page.contacts}
        assert all(str(70_000 + n) in seen for n, at in enumerate(times) if at < page.last_modified)
    assert pages[-1].last_modified == max(times)


@pytest.mark.parametrize(
    ("login_url", "audience"),
    [
        ("https://login.salesforce.com", "https://login.salesforce.com"),
        ("https://acme.my.salesforce.com", "https://login.salesforce.com"),  # a My Domain
        ("https://test.salesforce.com", "https://test.salesforce.com"),
        ("https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
        ("https://acme.my.site.com/customers", "https://acme.my.site.com/customers"),
    ],
)
def test_the_jwt_audience_is_salesforce_s_authorization_server(
    login_url: str, audience: str
) -> None:
    from bot.intake.salesforce.api import jwt_audience

    assert jwt_audience(login_url) == audience


def test_salesforce_s_jwt_and_client_credentials_logins(
    salesforce: FakeSalesforce, tmp_path: Path
) -> None:
    """The token is asked from SALESFORCE_LOGIN_URL (here a My Domain's stand-in): the JWT is
    signed with the app's key for the audience Salesforce names, and the client credentials
    flow needs no user."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from bot.intake.registry import connected
    from bot.intake.salesforce.api import SalesforceApi, credentials

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "app.key"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))  # fmt: skip
    salesforce.public_key = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    base = {"SALESFORCE_LOGIN_URL": salesforce.url, "SALESFORCE_CONSUMER_KEY": "3MVG9-key"}
    flows = {
        "urn:ietf:params:oauth:grant-type:jwt-bearer": {
            "SALESFORCE_USERNAME": salesforce.username,
            "SALESFORCE_PRIVATE_KEY_FILE": str(pem),
        },
        "client_credentials": {"SALESFORCE_CONSUMER_SECRET": "secret"},
    }
    for grant, env in flows.items():
        settings = Settings(_env_file=None, **{**base, **env})  # type: ignore[arg-type]
        assert connected(settings) == ("salesforce",)
        api = SalesforceApi(credentials(settings), version="62.0")
        assert api.users() == {"0055e000001RitaAAA": "rita@example.com",
                               "0055e000001SamXAAA": "sam@example.com"}  # fmt: skip
        assert salesforce.calls_to("/services/oauth2/token")[-1].body["grant_type"] == grant


def test_an_older_sync_snapshot_never_overwrites_a_newer_webhook_value(  # type: ignore[no-untyped-def]
    hubspot: FakeHubSpot, tmp_path: Path, fake_slack: FakeSlack, database_url: str
) -> None:
    """The search API answers the contact as it was at 10:00 (its lastmodifieddate); a webhook
    event of 10:01 already set a newer company and owner: the sync keeps them, and keeps their
    times, while it takes what it is newer for (the lifecycle stage)."""
    from bot.intake.hubspot.webhook import apply_hubspot
    from bot.intake.sync import sync

    _, engine, settings = prepared(tmp_path, database_url, fake_slack, crm_env("hubspot", hubspot))
    ten = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    hubspot.upsert_contact("901", at=ten, lastname="Snap", company="Old Co",
                           hubspot_owner_id="31425365",
                           lifecyclestage="marketingqualifiedlead")  # fmt: skip
    later = int((ten + timedelta(minutes=1)).timestamp() * 1000)
    event = {"objectId": 901, "occurredAt": later, "subscriptionType": "contact.propertyChange",
             "eventId": 1, "subscriptionId": 2, "portalId": 3, "appId": 4, "attemptNumber": 0,
             "changeSource": "CRM_UI"}  # fmt: skip
    apply_hubspot(engine, [{**event, "propertyName": "company", "propertyValue": "New Co"},
                           {**event, "propertyName": "hubspot_owner_id",
                            "propertyValue": "31425364"}])  # fmt: skip
    sync(engine, settings)
    with engine.connect() as connection:
        company, owner, stage, times = connection.execute(
            text("SELECT company, crm_owner, stage, crm_times FROM lead WHERE external_id = '901'")
        ).one()
    times = json.loads(times) if isinstance(times, str) else times
    assert (company, owner, stage) == ("New Co", "31425364", "mql")  # Rita's id, not Sam's
    assert times["company"] == later and times["*"] == int(ten.timestamp() * 1000)
    engine.dispose()


SEGMENTED = """
[funnel.segments.smb]
share = 0.6

[funnel.segments.enterprise]
share = 0.4
aov = 20000

[crm.hubspot]
segment_field = "company_tier"
[crm.hubspot.columns]
Segment = "Company Tier"
[crm.hubspot.segments]
"Mid-Market" = "smb"

[crm.salesforce]
segment_field = "Segment__c"
"""


def test_a_lead_s_segment_comes_from_the_crm_field_the_agreement_names(  # type: ignore[no-untyped-def]
    salesforce: FakeSalesforce, hubspot: FakeHubSpot, tmp_path: Path, fake_slack: FakeSlack,
    database_url: str,
) -> None:  # fmt: skip
    """`segment_field` names the CRM field: the sync asks each API for it (the stand-ins
    answer only the properties and fields asked for), a webhook's change of it moves the
    lead, an export reads it under its label; a segment's own name maps in any case, a value
    `[crm.<name>.segments]` maps is that segment, and a value neither knows is kept as it is
    and reported with the line that maps it."""
    from bot.intake.csv_import import import_csv
    from bot.intake.hubspot.webhook import apply_hubspot
    from bot.intake.sync import sync
    from bot.services.agreements import apply_agreement

    extra = {**crm_env("salesforce", salesforce), **crm_env("hubspot", hubspot)}
    _, engine, settings = prepared(tmp_path, database_url, fake_slack, extra)
    agreement = always_open_agreement(tmp_path).read_text() + SEGMENTED
    apply_agreement(engine, agreement, applied_by="test")
    hubspot.upsert_contact("711", lastname="Big", company_tier="ENTERPRISE")
    hubspot.upsert_contact("712", lastname="Mid", company_tier="Mid-Market")
    hubspot.upsert_contact("713", lastname="Gov", company_tier="Public Sector")
    sf_lead = salesforce.put("Lead", salesforce.new_id("00Q"), LastName="Small", Company="Initech",
                             Status="Open - Not Contacted", Segment__c="SMB")  # fmt: skip
    reports = {r.crm: r for r in sync(engine, settings)}
    assert reports["hubspot"].fixes() == [
        "segment 'Public Sector' (1 record) matches nothing: [crm.hubspot.segments] "
        '"Public Sector" = "<one of [funnel.segments]>"'
    ]
    assert reports["salesforce"].fixes() == []

    event = {"objectId": 712, "occurredAt": int(time.time() * 1000) + 60_000, "eventId": 1,
             "subscriptionType": "contact.propertyChange", "subscriptionId": 2, "portalId": 3,
             "appId": 4, "attemptNumber": 0, "changeSource": "CRM_UI",
             "propertyName": "company_tier", "propertyValue": "Enterprise"}  # fmt: skip
    assert apply_hubspot(engine, [event]).leads.updated == 1

    (tmp_path / "contacts.csv").write_text(
        "Record ID,First Name,Last Name,Company Tier,Lifecycle Stage\n"
        "714,Ann,Export,Mid-Market,Marketing Qualified Lead\n"
    )
    summary = import_csv(engine, tmp_path / "contacts.csv")
    assert (summary.inserted, summary.fixes()) == (1, [])
    with engine.connect() as connection:
        segments = dict(connection.execute(text(
            "SELECT external_id, segment FROM lead ORDER BY external_id")).all())  # fmt: skip
    assert segments == {"711": "enterprise", "712": "enterprise", "713": "public_sector",
                        "714": "smb", sf_lead: "smb"}  # fmt: skip
    engine.dispose()


def test_crm_segments_name_segments_the_funnel_has() -> None:
    """A CRM value mapped to a segment `[funnel.segments]` does not name is refused with the
    segments there are; a segment field without segments is refused with what to add."""
    from bot.domain.agreement_file import parse_agreement

    example = (Path(__file__).parent.parent / "examples" / "sla.toml").read_text()
    text = example.replace("[[teams]]", SEGMENTED.replace('"smb"', '"mid"') + "\n[[teams]]")
    with pytest.raises(ValueError, match="maps 'Mid-Market' to 'mid', which is not one of "
                                         r"\[funnel.segments\] \(smb, enterprise\)"):  # fmt: skip
        parse_agreement(text)
    bare = example + '\n[crm.salesforce]\nsegment_field = "Segment__c"\n'
    with pytest.raises(ValueError, match=r"\[crm.salesforce\] reads a segment, but "):
        parse_agreement(bare)
