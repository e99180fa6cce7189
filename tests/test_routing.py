"""Routing: a breached lead goes to the next available rep once, written to the CRM once;
Reassign to…, Cover until… and Hand back through signed Slack requests; the digest's
routing lines against a hand count."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.domain.leads import LeadRecord
from bot.settings import Settings
from storage.ingest import upsert_leads
from tests.conftest import (
    RunningServer,
    engine_for,
    slabot_env,
    start_app,
    stop_server,
    wait_for,
)
from tests.fake_crm import HUBSPOT_RATE_LIMIT, FakeHubSpot
from tests.fake_slack import FakeSlack
from tests.signing import block_action_body, signed_headers, view_submission_body

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sla.toml"
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()  # UTC: the agreement below keeps every rep's calendar in UTC
BREACHED = NOW - timedelta(hours=9)  # the 4h first touch breached 5h ago, escalated at 4h


def agreement_text(*, reassign_after: str = "never", extra_reps: str = "") -> str:
    """The worked example, in UTC, open around the clock (business time is wall time)."""
    return f"""
[agreement]
name = "Routing"
effective = "2026-07-01"
watch_from = "2026-07-01T00:00:00"

[calendar]
timezone = "UTC"
workdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
hours = "00:00-23:59:59.999999"
holidays = ""

[sales]
first_touch = "4h"
accept_within = "5bd"
escalate_manager_after = "4h"
escalate_channel_after = "1bd"

[[teams]]
name = "na"
channel = "C0STANDUP"

[teams.routing]
reassign_after = "{reassign_after}"

[teams.routing.reps]
"cap@example.com" = {{ cap = 1 }}

[[reps]]
email = "rita@example.com"
team = "na"
manager = "max@example.com"

[[reps]]
email = "olga@example.com"
team = "na"
manager = "max@example.com"
out_of_office = ["{TODAY.isoformat()}"]

[[reps]]
email = "cap@example.com"
team = "na"
manager = "max@example.com"

[[reps]]
email = "tom@example.com"
team = "na"
manager = "max@example.com"
{extra_reps}
"""


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def store_leads(engine: Engine, rows: list[tuple[str, str, str]]) -> None:
    """(source system, external id, owner) leads handed off at BREACHED, untouched."""
    with engine.begin() as connection:
        for system in sorted({row[0] for row in rows}):
            records = [
                LeadRecord(external, {"owner_email": owner, "mql_at": BREACHED,
                                      "assigned_at": BREACHED, "created_at": BREACHED,
                                      "stage": "mql", "company": external, "source": "web"})
                for each, external, owner in rows if each == system
            ]  # fmt: skip
            upsert_leads(connection, records, source_system=system, origin="import")


def lead_ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT external_id, id FROM lead"))
        return {external: lead_id for external, lead_id in rows}


def owner_of(engine: Engine, external: str) -> tuple[str, str | None]:
    with engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(
                text("SELECT owner_email, covered_for FROM lead WHERE external_id = :e"),
                {"e": external},
            ).one()
        )


@pytest.fixture
def hubspot() -> FakeHubSpot:
    stand = FakeHubSpot().start()
    stand.add_owner("555", "tom@example.com")
    stand.add_owner("556", "rita@example.com")
    stand.upsert_contact("101", company="Acme", hubspot_owner_id="556")
    yield stand
    stand.stop()


def test_a_breach_is_reassigned_once_to_the_next_available_rep(  # type: ignore[no-untyped-def]
    engine: Engine, fake_slack: FakeSlack, hubspot: FakeHubSpot
) -> None:
    """Olga is out of office and Cap has had his one lead of the day: Tom gets Rita's breached
    lead, once, however many clocks scan; he is told once; HubSpot's owner is set once, through
    a rate limit; Rita's queue no longer lists it."""
    from bot.flows.delivery import sender
    from bot.services.agreements import apply_agreement
    from bot.services.alerts import audience_message, scan
    from bot.slack.render import Renderer
    from storage import routing as routing_store
    from storage.agreements import agreement_in_force

    apply_agreement(engine, agreement_text(reassign_after="2h"), now=NOW - timedelta(days=1))
    store_leads(engine, [("hubspot", "101", "rita@example.com"),
                         ("native", "N0", "tom@example.com")])  # fmt: skip
    ids = lead_ids(engine)
    with engine.begin() as connection:  # Cap's one lead of the day, given an hour ago
        routing_store.change_owner(connection, lead_id=ids["N0"], to="cap@example.com",
                                   at=NOW - timedelta(hours=1), kind="reassigned",
                                   by="rotation")  # fmt: skip
    fake_slack.users_by_email |= {"tom@example.com": "U0TOM", "cap@example.com": "U0CAP"}
    hubspot.fail("PATCH /crm/v3/objects/contacts/101", 429, body=HUBSPOT_RATE_LIMIT)

    def clock() -> None:
        scan(engine, Renderer(), now=NOW, crms=("hubspot",))

    clocks = [threading.Thread(target=clock) for _ in range(2)]
    for each in clocks:
        each.start()
    for each in clocks:
        each.join()
    clock()  # and a later tick: nothing moves twice

    assert owner_of(engine, "101") == ("tom@example.com", None)
    with engine.connect() as connection:
        events = routing_store.history(connection, ids["101"])
    assert [(e.kind, e.by, e.from_owner, e.to_owner) for e in events] == [
        ("reassigned", "rotation", "rita@example.com", "tom@example.com")
    ]
    env = slabot_env("sqlite://", fake_slack, HUBSPOT_ACCESS_TOKEN="pat-na1-test",
                     HUBSPOT_API_URL=hubspot.url)  # fmt: skip
    settings = Settings(**{k: v for k, v in env.items() if k.startswith(("SLACK_", "HUBSPOT_"))})
    sender(engine, settings).deliver(wait_up_to=timedelta(seconds=10))
    told = [m for (channel, _), m in fake_slack.messages.items() if channel == "D0TOM"]
    assert len(told) == 1 and "reassigned to you" in dumps(told[0])
    patches = hubspot.calls_to("PATCH /crm/v3/objects/contacts/101")
    assert [call.body["properties"] for call in patches] == [
        {"hubspot_owner_id": "555"},  # refused: 429
        {"hubspot_owner_id": "555"},
    ]  # fmt: skip
    assert hubspot.contacts["101"]["hubspot_owner_id"] == "555"
    agreement = agreement_in_force(engine, on=TODAY)
    with engine.connect() as connection:
        rita = audience_message(connection, agreement, Renderer(), kind="sla_rep",
                                audience="rita@example.com", now=NOW, min_level=0)  # fmt: skip
        tom = audience_message(connection, agreement, Renderer(), kind="sla_rep",
                               audience="tom@example.com", now=NOW, min_level=0)  # fmt: skip
    assert [line.lead.id for line in rita.lines] == []
    assert ids["101"] in [line.lead.id for line in tom.lines]


def test_nobody_available_leaves_the_lead_where_it_is(engine: Engine) -> None:
    """With Tom out of office too, nobody can take the lead: it stays Rita's (and is tried
    again at the next scan)."""
    from bot.services.agreements import apply_agreement
    from bot.services.alerts import scan
    from bot.slack.render import Renderer

    text_ = (
        agreement_text(reassign_after="2h")
        .replace(
            'email = "tom@example.com"', f'email = "tom@example.com"\nout_of_office = ["{TODAY}"]'
        )
        .replace('"cap@example.com" = { cap = 1 }', '"cap@example.com" = { cap = 1, weight = 2 }')
    )
    apply_agreement(engine, text_, now=NOW - timedelta(days=1))
    store_leads(
        engine, [("native", "N1", "rita@example.com"), ("native", "N2", "rita@example.com")]
    )
    scan(engine, Renderer(), now=NOW)
    # Cap takes the first (his cap is 1), then nobody is left for the second
    owners = sorted(owner_of(engine, external)[0] for external in ("N1", "N2"))
    assert owners == ["cap@example.com", "rita@example.com"]


def test_an_owner_changed_in_the_crm_is_a_new_hand_off(engine: Engine) -> None:
    """HubSpot moves Rita's breached contact to Tom: the lead's clocks start again from the
    change (nothing Rita was told is Tom's news), and its history says the CRM did it."""
    from bot.intake.hubspot.webhook import apply_hubspot
    from bot.services.agreements import apply_agreement
    from bot.services.alerts import scan
    from bot.slack.render import Renderer

    terms = agreement_text()
    for email, owner_id in (("rita@example.com", "556"), ("tom@example.com", "555")):
        terms = terms.replace(
            f'email = "{email}"', f'email = "{email}"\nhubspot_owner_id = "{owner_id}"'
        )
    apply_agreement(engine, terms, now=NOW - timedelta(days=1))
    store_leads(engine, [("hubspot", "101", "rita@example.com")])
    scan(engine, Renderer(), now=NOW)  # Rita's breach, told
    changed = NOW - timedelta(minutes=5)
    event = {"objectId": 101, "occurredAt": int(changed.timestamp() * 1000), "eventId": 7,
             "subscriptionType": "contact.propertyChange", "propertyName": "hubspot_owner_id",
             "propertyValue": "555", "portalId": 62515, "attemptNumber": 0}  # fmt: skip
    apply_hubspot(engine, [event])
    assert owner_of(engine, "101") == ("tom@example.com", None)
    scan(engine, Renderer(), now=NOW)
    with engine.connect() as connection:
        due, alerted = connection.execute(text(
            "SELECT due_at, alerted FROM sla_clock WHERE rule = 'first_touch'")).one()  # fmt: skip
        event_row = connection.execute(text(
            "SELECT kind, by, from_owner, to_owner FROM lead_event WHERE kind = 'crm_owner'"
        )).one()  # fmt: skip
        kept = connection.execute(text("SELECT note FROM lead_event WHERE kind = 'told'"))
        told = sorted(note for (note,) in kept)
    due = due if isinstance(due, datetime) else datetime.fromisoformat(str(due))
    # (the open-all-day hours close for a microsecond at midnight)
    assert abs(due.replace(tzinfo=due.tzinfo or UTC) - (changed + timedelta(hours=4))) < timedelta(
        seconds=1
    )
    assert alerted == 0
    assert tuple(event_row) == ("crm_owner", "crm", "rita@example.com", "tom@example.com")
    # what Rita was told stays in the lead's history: due soon, breached, her manager
    assert told == ["first_touch|1", "first_touch|2", "first_touch|3"]


# -- by hand, through signed Slack requests --------------------------------------------------
@pytest.fixture
def served(tmp_path: Path, fake_slack: FakeSlack, database_url: str):  # type: ignore[no-untyped-def]
    """Rita's three breached leads (escalated to Max), a scan delivered, `slabot serve`."""
    from bot.flows.alerts import scan_and_deliver
    from bot.services.agreements import apply_agreement
    from bot.slack.render import Renderer
    from storage.migrate import upgrade

    env = slabot_env(database_url, fake_slack, SLABOT_ADMINS="U0ADMIN")
    fake_slack.users_by_email |= {"tom@example.com": "U0TOM", "olga@example.com": "U0OLGA",
                                  "cap@example.com": "U0CAP"}  # fmt: skip
    engine = engine_for(database_url)
    upgrade(engine)
    apply_agreement(engine, agreement_text(), now=NOW - timedelta(days=1))
    store_leads(engine, [("native", name, "rita@example.com") for name in ("A1", "A2", "A3")])
    settings = Settings(**{k: v for k, v in env.items() if k.startswith(("SLACK_", "DATABASE"))})
    scan_and_deliver(engine, Renderer(), settings, now=datetime.now(UTC))
    server = start_app(env, tmp_path / "serve.log")
    yield server, engine, env
    stop_server(server)
    engine.dispose()
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log


def action_body(fake: FakeSlack, action: dict, *, user: str, channel: str) -> str:
    from urllib.parse import parse_qs, urlencode

    ts = next(k[1] for k in fake.messages if k[0] == channel)
    body = block_action_body("x", "", response_url=fake.response_url("act"), user_id=user,
                             channel=channel, message_ts=ts, ephemeral=False)  # fmt: skip
    payload = json.loads(parse_qs(body)["payload"][0])
    payload["actions"] = [{**action, "block_id": "act:1", "action_ts": "1700000000.1"}]
    return urlencode({"payload": json.dumps(payload)})


def post(server: RunningServer, body: str) -> None:
    response = server.post("/slack/events", body, signed_headers(body))
    assert response.status_code == 200, response.text


def test_a_manager_reassigns_and_a_stranger_is_refused(served, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    server, engine, _ = served
    ids = lead_ids(engine)
    manager_dm = dumps([m for (c, _), m in fake_slack.messages.items() if c == "D0MAX"])
    assert "Reassign to…" in manager_dm and "Cover until…" in manager_dm
    choice = {"action_id": "route_reassign", "type": "static_select",
              "selected_option": {"value": f"{ids['A1']}|tom@example.com"}}  # fmt: skip
    post(server, action_body(fake_slack, choice, user="U0OLGA", channel="D0MAX"))
    wait_for(lambda: fake_slack.calls_to("response_url"))
    assert "Only the owner of *A1*" in fake_slack.calls_to("response_url")[0].body["text"]
    assert owner_of(engine, "A1") == ("rita@example.com", None)

    post(server, action_body(fake_slack, choice, user="U0MAX", channel="D0MAX"))
    wait_for(lambda: owner_of(engine, "A1")[0] == "tom@example.com")
    wait_for(lambda: any(c == "D0TOM" for c, _ in fake_slack.messages))
    told = dumps([m for (c, _), m in fake_slack.messages.items() if c == "D0TOM"])
    assert "max@example.com gave it to you (it was rita@example.com's)" in told
    wait_for(
        lambda: "reassigned *A1* to tom@example.com" in dumps(list(fake_slack.messages.values()))
    )


def test_a_rep_hands_a_lead_back_to_the_rotation(served, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    """Olga is out of office: the rotation gives Rita's lead to Cap, the first one available."""
    server, engine, _ = served
    ids = lead_ids(engine)
    button = {"action_id": "route_hand_back", "type": "button", "value": str(ids["A2"])}
    post(server, action_body(fake_slack, button, user="U0RITA", channel="D0RITA"))
    wait_for(lambda: owner_of(engine, "A2")[0] != "rita@example.com")
    assert owner_of(engine, "A2") == ("cap@example.com", None)


def test_cover_until_then_the_rep_gets_the_untouched_leads_back(
    served, fake_slack: FakeSlack
) -> None:  # type: ignore[no-untyped-def]
    """Max has Tom cover Rita until today: A3 goes to Tom now, and so does her new lead A4.
    Tom calls A3; when Rita is back (tomorrow) A3 stays his and A4 returns to her."""
    from bot.services.alerts import scan
    from bot.slack.render import Renderer
    from storage import routing as routing_store

    server, engine, _ = served
    ids = lead_ids(engine)
    button = {"action_id": "route_cover", "type": "button", "value": str(ids["A3"])}
    post(server, action_body(fake_slack, button, user="U0MAX", channel="D0MAX"))
    wait_for(lambda: fake_slack.views)
    [view] = fake_slack.views
    assert view["callback_id"] == "route_cover"
    values = {
        "cover_rep": {"cover_rep": {"type": "static_select",
                                    "selected_option": {"value": "tom@example.com"}}},
        "cover_until": {"cover_until": {"type": "datepicker", "selected_date": TODAY.isoformat()}},
    }  # fmt: skip
    body = view_submission_body("route_cover", values, private_metadata=view["private_metadata"],
                                user_id="U0MAX")  # fmt: skip
    post(server, body)
    wait_for(lambda: owner_of(engine, "A3") == ("tom@example.com", "rita@example.com"))
    # while she is away, her new lead goes to Tom too
    store_leads(engine, [("native", "A4", "rita@example.com")])
    with engine.begin() as connection:
        connection.execute(text("UPDATE lead SET assigned_at = :at WHERE external_id = 'A4'"),
                           {"at": datetime.now(UTC)})  # fmt: skip
    scan(engine, Renderer(), now=datetime.now(UTC))
    assert owner_of(engine, "A4") == ("tom@example.com", "rita@example.com")
    with engine.begin() as connection:  # Tom calls A3
        connection.execute(text("INSERT INTO touch (lead_id, touched_at, kind, rep_email) "
                                "VALUES (:lead, :at, 'call', 'tom@example.com')"),
                           {"lead": ids["A3"], "at": datetime.now(UTC)})  # fmt: skip
    scan(engine, Renderer(), now=datetime.now(UTC) + timedelta(days=1))  # Rita is back
    assert owner_of(engine, "A3") == ("tom@example.com", None)
    assert owner_of(engine, "A4") == ("rita@example.com", None)
    with engine.connect() as connection:
        kinds = [e.kind for e in routing_store.history(connection, lead_ids(engine)["A4"])]
    assert kinds == ["covered", "returned"]


# -- the digest's routing lines ----------------------------------------------------------------
def test_the_digests_routing_lines_match_a_hand_count(engine: Engine) -> None:
    """Since yesterday's 09:00 stand-up: 2 reassigned by the rotation, 1 by hand, 1 covered
    (one more, the day before, does not count). This month: Rita 2 leads, Tom 1 (a lead Tom
    holds for Rita is Rita's). Routing delay and response by hand, per source."""
    from bot.services.agreements import apply_agreement
    from bot.services.digest import compute_digest
    from storage import routing as routing_store

    day = date(2026, 11, 18)  # a Wednesday; yesterday's stand-up: Tue 17 Nov 09:00 UTC
    terms = agreement_text(reassign_after="2h").replace(f'out_of_office = ["{TODAY}"]', "")
    apply_agreement(engine, terms, now=datetime(2026, 11, 1, tzinfo=UTC))
    at = datetime(2026, 11, 17, 10, tzinfo=UTC)
    rows = [  # external, source, owner, covered_for, created, assigned (min after), touched
        ("L1", "web", "rita@example.com", None, at, 30, 60),
        ("L2", "web", "rita@example.com", None, at, 90, None),
        ("L3", "ads", "tom@example.com", None, at, 10, 20),
        ("L4", "ads", "tom@example.com", "rita@example.com", at, 20, None),
    ]
    with engine.begin() as connection:
        upsert_leads(connection, [
            LeadRecord(ext, {"source": src, "owner_email": owner, "created_at": created,
                             "mql_at": created + timedelta(minutes=assigned),
                             "assigned_at": created + timedelta(minutes=assigned), "stage": "mql"})
            for ext, src, owner, _, created, assigned, _ in rows
        ], source_system="native", origin="import")  # fmt: skip
        for ext, _, _, covered, created, _, touched in rows:
            connection.execute(text("UPDATE lead SET covered_for = :c, first_touch_at = :t "
                                    "WHERE external_id = :e"),
                               {"c": covered, "e": ext, "t": None if touched is None
                                else created + timedelta(minutes=touched)})  # fmt: skip
        lead = connection.execute(text("SELECT id FROM lead WHERE external_id = 'L1'")).scalar_one()
        for when, kind, by in (
            (datetime(2026, 11, 16, 12, tzinfo=UTC), "reassigned", "rotation"),  # before
            (datetime(2026, 11, 17, 9, 30, tzinfo=UTC), "reassigned", "rotation"),
            (datetime(2026, 11, 17, 15, tzinfo=UTC), "reassigned", "rotation"),
            (datetime(2026, 11, 17, 16, tzinfo=UTC), "reassigned", "max@example.com"),
            (datetime(2026, 11, 18, 8, tzinfo=UTC), "covered", "max@example.com"),
        ):
            routing_store.record_event(connection, lead_id=lead, at=when, kind=kind, by=by,
                                       from_owner="rita@example.com",
                                       to_owner="tom@example.com")  # fmt: skip
    digest = compute_digest(engine, team="na", day=day, now=datetime(2026, 11, 18, 9, tzinfo=UTC))
    routing = digest.routing
    assert routing is not None
    assert dict(routing.moves) == {"reassigned_auto": 2, "reassigned": 1, "covered": 1}
    assert routing.per_rep == [("rita@example.com", 3), ("tom@example.com", 1)]
    by_source = {d.source: (d.leads, d.routing_minutes, d.response_minutes) for d in routing.delays}
    # web: routing (30 + 90) / 2 = 60 min, response only L1: 60 - 30 = 30 min
    # ads: routing (10 + 20) / 2 = 15 min, response only L3: 20 - 10 = 10 min
    assert by_source["web"][0] == 2 and by_source["ads"][0] == 2
    assert by_source["web"][1] == pytest.approx(60, abs=0.01)
    assert by_source["web"][2] == pytest.approx(30, abs=0.01)
    assert by_source["ads"][1] == pytest.approx(15, abs=0.01)
    assert by_source["ads"][2] == pytest.approx(10, abs=0.01)
