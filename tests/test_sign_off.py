"""The agreement proposed, signed and recalibrated in Slack, through signed requests into the
running app: a proposal needs every signatory (anyone else's Approve is refused), is stored
once, effective next period, its card redrawn and the next digest noting it; Request changes
keeps the version in force; a recalibration over a hand-built quarter proposes the hand
computed rates and flags what too few leads measured."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import RunningServer, engine_for, slabot_env, start_app, stop_server, wait_for
from tests.fake_slack import FakeSlack
from tests.signing import (
    block_action_body,
    signed_headers,
    slash_command_body,
    view_submission_body,
)
from tests.test_alert_actions import always_open_agreement

SIGNED = 'signatories = ["U0MARK", "U0SALES"]\nchannel = "C0SLA"\n'


def signed_agreement(folder: Path) -> str:
    """The example, always open, with two signatories and the agreement's channel."""
    found = always_open_agreement(folder).read_text()
    return found.replace("[agreement]\n", "[agreement]\n" + SIGNED, 1)


@pytest.fixture
def app(
    tmp_path: Path, fake_slack: FakeSlack, database_url: str
) -> Iterator[tuple[RunningServer, Engine, dict[str, str]]]:
    from bot.services.agreements import apply_agreement
    from storage.migrate import upgrade

    env = slabot_env(database_url, fake_slack)
    engine = engine_for(database_url)
    upgrade(engine)
    apply_agreement(engine, signed_agreement(tmp_path), applied_by="cli:sla.toml")
    server = start_app(env, tmp_path / "serve.log")
    yield server, engine, env  # env: for `slabot` beside the running app
    stop_server(server)
    engine.dispose()


def _post(server: RunningServer, body: str):  # type: ignore[no-untyped-def]
    return server.post("/slack/events", body, signed_headers(body))


def _card(fake: FakeSlack) -> dict:
    [card] = [m for m in fake.posts_in("C0SLA") if "Proposal #" in (m.get("text") or "")]
    return card


def _shown(fake: FakeSlack) -> str:
    return json.dumps(_card(fake)["blocks"], ensure_ascii=False)


def _answer(fake: FakeSlack, name: str) -> str:
    return json.dumps([c.body for c in fake.calls_to("response_url") if c.path.endswith(name)])


def _press(server: RunningServer, fake: FakeSlack, action: str, user: str, name: str) -> str:
    body = block_action_body(action, "1", user_id=user, response_url=fake.response_url(name),
                             channel="C0SLA", message_ts="1.1", ephemeral=False)  # fmt: skip
    assert _post(server, body).status_code == 200
    wait_for(lambda: _answer(fake, name) != "[]", what=f"the answer to {user}'s {action}")
    return _answer(fake, name)


def _propose(server: RunningServer, fake: FakeSlack, user: str, mql_to_sql: str) -> None:
    body = slash_command_body("/sla", "propose", user_id=user)
    assert _post(server, body).status_code == 200
    wait_for(lambda: fake.views, what="the proposal modal")
    modal = fake.views[-1]
    fields = {block["block_id"]: block for block in modal["blocks"] if block["type"] == "input"}
    assert fields["funnel.mql_to_sql"]["element"]["initial_value"] == "0.34"
    assert fields["marketing.mql_target"]["element"]["initial_value"] == "3900"
    values = {
        key: {"value": {"type": "plain_text_input", "value": block["element"].get("initial_value")}}
        for key, block in fields.items()
        if key != "agreement.effective"
    }
    values["funnel.mql_to_sql"]["value"]["value"] = mql_to_sql
    values["agreement.effective"] = {"value": {"type": "datepicker", "selected_date": fields[
        "agreement.effective"]["element"]["initial_date"]}}  # fmt: skip
    body = view_submission_body("sla_propose", values, private_metadata='{"kind": "edit"}',
                                user_id=user)  # fmt: skip
    answer = _post(server, body)
    assert answer.status_code == 200 and not answer.text, answer.text


def _versions(engine: Engine) -> list[tuple]:
    with engine.connect() as connection:
        return list(connection.execute(text(
            "SELECT version, in_force_from, signed_by FROM agreement_version ORDER BY version"
        )))  # fmt: skip


def test_a_proposal_needs_every_signatory_and_is_stored_once(app, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    """MQL→SQL 34 % → 30 %: the quota's 1,326 SQLs need 1,326 ÷ 0.30 = 4,420 MQLs, not 3,900
    (the typed target stays). Rita is no signatory; the marketing head's Approve counts; the
    sales head's stores v2, in force from the first of next month."""
    from zoneinfo import ZoneInfo

    from bot.services.digest import compute_digest

    server, engine, env = app
    _propose(server, fake_slack, "U0MARK", "30%")
    wait_for(lambda: [m for m in fake_slack.posts_in("C0SLA") if "Proposal #" in m["text"]],
             what="the proposal's card")  # fmt: skip
    card = _shown(fake_slack)
    assert "`funnel.mql_to_sql`: 0.34 → 0.3" in card
    assert "MQLs the quota needs 3,900 → 4,420" in card
    assert "⏳ <@U0MARK> · ⏳ <@U0SALES>" in card and '"proposal_approve"' in card

    assert "Only the agreement's signatories sign it" in _press(
        server, fake_slack, "proposal_approve", "U0RITA", "rita"
    )
    assert "stored once every signatory has approved" in _press(
        server, fake_slack, "proposal_approve", "U0MARK", "mark"
    )
    wait_for(lambda: "✅ <@U0MARK> · ⏳ <@U0SALES>" in _shown(fake_slack),
             what="the card showing the first approval")  # fmt: skip
    assert len(_versions(engine)) == 1
    assert "You answered proposal #1 already" in _press(
        server, fake_slack, "proposal_approve", "U0MARK", "again"
    )
    assert "stored as v2" in _press(server, fake_slack, "proposal_approve", "U0SALES", "sales")

    versions = _versions(engine)
    assert [v[0] for v in versions] == [1, 2]
    today = datetime.now(ZoneInfo("America/New_York")).date()
    first_of_next = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    assert str(versions[1][1]) == first_of_next.isoformat()
    signed = versions[1][2] if isinstance(versions[1][2], list) else json.loads(versions[1][2])
    assert [s["user"] for s in signed] == ["U0MARK", "U0SALES"]
    wait_for(lambda: "Signed" in _shown(fake_slack), what="the signed card")

    def news() -> list[str]:
        return [m["text"] for m in fake_slack.posts_in("C0SLA") if "is signed by" in m["text"]]

    wait_for(news, what="the channel told")
    assert "<@U0MARK> and <@U0SALES>: in force from" in news()[0]
    assert "Only the agreement's signatories" not in _press(
        server, fake_slack, "proposal_approve", "U0SALES", "late"
    )  # a closed proposal says so, to anyone

    body = slash_command_body("/sla", "terms", user_id="U0RITA")
    assert "Applied by cli:sla.toml without sign-off" in _post(server, body).text  # v1, today
    from tests.cli_runner import run_slabot

    shown = run_slabot("sla", "show", "--date", first_of_next.isoformat(), env=env)
    assert "version 2" in shown.stdout and "Signed by U0MARK (" in shown.stdout, shown.stdout
    assert ") and U0SALES (" in shown.stdout

    digest = compute_digest(engine, team="na", day=today)
    assert [(t.version, t.in_force_from, t.signed_by) for t in digest.new_terms] == [
        (2, first_of_next, ["U0MARK", "U0SALES"])
    ]


def test_request_changes_keeps_the_version_in_force(app, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    server, engine, _ = app
    _propose(server, fake_slack, "U0MARK", "0.31")
    wait_for(lambda: [m for m in fake_slack.posts_in("C0SLA") if "Proposal #" in m["text"]],
             what="the proposal's card")  # fmt: skip
    body = block_action_body("proposal_changes", "1", user_id="U0SALES", channel="C0SLA",
                             response_url=fake_slack.response_url("changes"), message_ts="1.1",
                             ephemeral=False)  # fmt: skip
    assert _post(server, body).status_code == 200
    wait_for(lambda: any(v.get("callback_id") == "proposal_changes" for v in fake_slack.views),
             what="the reason's modal")  # fmt: skip
    reason = {"changes_reason": {"value": {"type": "plain_text_input",
                                           "value": "31% is too low for Q1"}}}  # fmt: skip
    body = view_submission_body("proposal_changes", reason, private_metadata='{"proposal": 1}',
                                user_id="U0SALES")  # fmt: skip
    assert _post(server, body).status_code == 200
    wait_for(
        lambda: any(
            "31% is too low for Q1" in (m.get("text") or "") and m.get("thread_ts")
            for m in fake_slack.posts_in("C0SLA")
        ),
        what="the reason in the thread",
    )
    wait_for(lambda: "Changes requested" in _shown(fake_slack),
             what="the card saying so")  # fmt: skip
    assert "proposal_approve" not in _shown(fake_slack)
    assert len(_versions(engine)) == 1
    assert "changes requested: nothing to sign" in _press(
        server, fake_slack, "proposal_approve", "U0MARK", "after"
    )


def _cohort(engine: Engine) -> None:
    """Q3 2026: 100 website MQLs (36 SQLs, 30 opportunities, 9 won at $2,500), 10 outbound
    (3 SQLs, 2 opportunities, 1 won at $3,000); MQLs of October are outside."""
    from bot.domain.leads import LeadRecord
    from storage.ingest import upsert_leads

    at = datetime(2026, 8, 12, 15, tzinfo=UTC)
    rows = []
    for source, mqls, sqls, opps, won, amount in (("website", 100, 36, 30, 9, 2500),
                                                   ("outbound", 10, 3, 2, 1, 3000),
                                                   ):  # fmt: skip
        for n in range(mqls):
            values: dict = {"mql_at": at, "source": source, "stage": "mql"}
            if n < sqls:
                values |= {"sql_at": at + timedelta(days=3), "stage": "sql"}
            if n < opps:
                values |= {"opportunity_at": at + timedelta(days=9), "stage": "opportunity"}
            if n < won:
                values |= {"closed_at": at + timedelta(days=30), "outcome": "won",
                           "stage": "won", "amount": amount}  # fmt: skip
            rows.append(LeadRecord(f"{source}-{n}", values))
    rows.append(LeadRecord("late", {"mql_at": datetime(2026, 10, 2, 15, tzinfo=UTC),
                                    "sql_at": datetime(2026, 10, 3, tzinfo=UTC)}))  # fmt: skip
    with engine.begin() as connection:
        upsert_leads(connection, rows, source_system="native", origin="import")


def test_a_recalibration_proposes_the_quarter_s_rates(engine: Engine, tmp_path: Path) -> None:
    """All Q3 MQLs: MQL→SQL 39/110 = 0.3545, SQL→opp 32/39 = 0.8205, win 10/32 = 0.3125;
    AOV on 10 won deals is too few (the assumed $2,000 stays). Website (100 MQLs): 0.36,
    30/36 = 0.8333, 9/30 = 0.3. Outbound measures every rate on fewer than 20: flagged, its
    own 0.30 and 0.18 stay. The quota then needs 250 deals ÷ 0.3125 = 800 opportunities,
    ⌈800 ÷ 0.8205⌉ = 976 SQLs, ⌈976 ÷ 0.3545⌉ = 2,754 MQLs. Due in the quarter's last week,
    once."""
    import tomllib

    from bot.services import proposals
    from bot.services.agreements import apply_agreement
    from bot.slack.render import Renderer

    apply_agreement(engine, signed_agreement(tmp_path), now=datetime(2026, 7, 1, tzinfo=UTC))
    _cohort(engine)
    now = datetime(2026, 12, 26, 15, tzinfo=UTC)
    assert not proposals.recalibration_due(engine, datetime(2026, 12, 20, 15, tzinfo=UTC))
    assert proposals.recalibration_due(engine, now)
    proposal, items = proposals.propose_recalibration(engine, Renderer(), by="slabot", now=now)
    assert items and not proposals.recalibration_due(engine, now + timedelta(days=1))
    funnel = tomllib.loads(proposal.text)["funnel"]
    assert (funnel["mql_to_sql"], funnel["sql_to_opp"], funnel["win"], funnel["aov"]) == (
        0.3545,
        0.8205,
        0.3125,
        2000,
    )
    website, outbound = funnel["sources"]["website"], funnel["sources"]["outbound"]
    assert (website["mql_to_sql"], website["sql_to_opp"], website["win"]) == (0.36, 0.8333, 0.3)
    assert "aov" not in website
    assert (outbound["mql_to_sql"], outbound["win"]) == (0.30, 0.18)
    flagged = {(m["group"], m["key"]) for m in proposal.notes["measured"] if m["flagged"]}
    assert {("outbound (source)", key) for key in ("mql_to_sql", "sql_to_opp", "win", "aov")} <= (
        flagged
    )
    assert ("all MQLs", "aov") in flagged and ("all MQLs", "win") not in flagged
    assert ["MQLs the quota needs", 3900, 2754] in proposal.notes["targets"]
    assert proposal.notes["quarter"] == "Q3 2026"
    assert proposal.in_force_from == date(2027, 1, 1)


def test_recalibrate_refills_the_modal_and_outsiders_cannot_propose(  # type: ignore[no-untyped-def]
    app, fake_slack: FakeSlack
) -> None:
    """Rita (neither signatory nor admin) is told who proposes; the marketing head's modal,
    refilled by Recalibrate, holds last quarter's rates: with no MQLs in it, every rate is
    measured on none, so each assumed value stays and says so."""
    from tests.signing import modal_action_body

    server, _, _ = app
    body = slash_command_body("/sla", "propose", user_id="U0RITA",
                              response_url=fake_slack.response_url("rita"))  # fmt: skip
    assert _post(server, body).status_code == 200
    wait_for(lambda: "Only the agreement's signatories and slabot's admins" in _answer(
        fake_slack, "rita"), what="the refusal")  # fmt: skip
    assert not fake_slack.views
    _propose_modal = slash_command_body("/sla", "propose", user_id="U0MARK")
    assert _post(server, _propose_modal).status_code == 200
    wait_for(lambda: fake_slack.views, what="the modal")
    body = modal_action_body("sla_recalibrate", callback_id="sla_propose", user_id="U0MARK")
    assert _post(server, body).status_code == 200
    wait_for(lambda: any(v.get("updated") == "V0MODAL" for v in fake_slack.views),
             what="the modal refilled")  # fmt: skip
    [refilled] = [v for v in fake_slack.views if v.get("updated") == "V0MODAL"]
    early = {"agreement.effective": {"value": {"type": "datepicker",
                                               "selected_date": "2026-07-01"}}}  # fmt: skip
    body = view_submission_body("sla_propose", early, private_metadata='{"kind": "edit"}',
                                user_id="U0MARK")  # fmt: skip
    refused = _post(server, body).json()
    assert "comes into force with a period: the earliest is 1 " in refused["errors"][
        "agreement.effective"]  # fmt: skip
    assert json.loads(refilled["private_metadata"]) == {"kind": "recalibration"}
    note = json.dumps(refilled["blocks"][0], ensure_ascii=False)
    assert "Too few leads to measure, so the assumed value stays" in note
    fields = {b["block_id"]: b for b in refilled["blocks"] if b["type"] == "input"}
    assert fields["funnel.mql_to_sql"]["element"]["initial_value"] == "0.34"


def test_a_proposal_from_the_file(tmp_path: Path, fake_slack: FakeSlack, database_url: str) -> None:
    """`slabot sla propose FILE` posts the card and lists the changes; an agreement naming no
    signatories cannot be proposed, and says what to add."""
    from bot.services.agreements import apply_agreement
    from storage.migrate import upgrade
    from tests.cli_runner import run_slabot

    env = slabot_env(database_url, fake_slack)
    engine = engine_for(database_url)
    upgrade(engine)
    apply_agreement(engine, signed_agreement(tmp_path), applied_by="cli:sla.toml")
    proposed = tmp_path / "proposed.toml"
    proposed.write_text(signed_agreement(tmp_path).replace('first_touch = "4h"',
                                                           'first_touch = "2h"'))  # fmt: skip
    done = run_slabot("sla", "propose", str(proposed), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Proposal #1 (1 change" in done.stdout and "sales.first_touch: 4h → 2h" in done.stdout
    assert [m for m in fake_slack.posts_in("C0SLA") if "Proposal #1" in m["text"]]

    apply_agreement(engine, always_open_agreement(tmp_path).read_text(), applied_by="cli:x")
    done = run_slabot("sla", "propose", str(proposed), env=env)
    assert done.returncode != 0 and "nobody can sign it" in done.stderr, done.stderr
    engine.dispose()
