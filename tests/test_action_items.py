"""The stand-up's action items, through signed requests into the running app: added from the
digest (its news in the digest's thread), shown in the following digests, overdue first, until
their owner marks them done — nobody else can."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.conftest import engine_for, wait_for
from tests.fake_slack import FakeSlack
from tests.signing import (
    block_action_body,
    signed_headers,
    slash_command_body,
    view_submission_body,
)
from tests.test_alert_actions import app  # noqa: F401  # the running app, leads imported

NEW_YORK = ZoneInfo("America/New_York")


def _post(server, body: str):  # type: ignore[no-untyped-def]
    return server.post("/slack/events", body, signed_headers(body))


def _answers(fake: FakeSlack, name: str) -> str:
    return json.dumps([c.body for c in fake.calls_to("response_url") if c.path.endswith(name)])


def _add(server, fake: FakeSlack, text: str, owner: str, due: str):  # type: ignore[no-untyped-def]
    today = datetime.now(NEW_YORK).date().isoformat()
    body = block_action_body("action_add", f"na|{today}", user_id="U0MAX", channel="C0STANDUP",
                             response_url=fake.response_url("add"), ephemeral=False)  # fmt: skip
    assert _post(server, body).status_code == 200
    wait_for(lambda: any(v.get("callback_id") == "action_add" for v in fake.views),
             what="the modal")  # fmt: skip
    modal = [v for v in fake.views if v.get("callback_id") == "action_add"][-1]
    values = {
        "action_text": {"action_text": {"type": "plain_text_input", "value": text}},
        "action_owner": {"action_owner": {"type": "users_select", "selected_user": owner}},
        "action_due": {"action_due": {"type": "datepicker", "selected_date": due}},
    }
    body = view_submission_body("action_add", values, user_id="U0MAX",
                                private_metadata=modal["private_metadata"])  # fmt: skip
    return _post(server, body)


def test_an_action_item_stays_in_the_digest_until_its_owner_marks_it_done(  # type: ignore[no-untyped-def]
    app,  # noqa: F811  # the fixture, imported above
    fake_slack: FakeSlack,
) -> None:
    from bot.flows.digest import scheduled_digest
    from bot.services.digest import compute_digest
    from bot.settings import Settings
    from bot.slack.messages.digest import render_digest
    from bot.slack.render import Renderer

    server, env = app
    engine = engine_for(env["DATABASE_URL"])
    settings = Settings(**{k: v for k, v in env.items() if k.startswith(("SLACK_", "DATABASE"))})
    now = datetime.now(UTC)
    scheduled_digest(engine, Renderer(), settings, team="na", now=now)  # today's, in C0STANDUP
    today = datetime.now(NEW_YORK).date()

    refused = _add(server, fake_slack, "Clean up the stale leads", "U0SAM",
                   (today - timedelta(days=1)).isoformat()).json()  # fmt: skip
    assert refused["errors"] == {"action_due": "The due date has passed: pick today or later."}
    due = today + timedelta(days=2)
    answer = _add(server, fake_slack, "Fix the EMEA  routing", "U0SAM", due.isoformat())
    assert answer.status_code == 200 and not answer.text
    wait_for(lambda: any("added an action item for <@U0SAM>" in (m.get("text") or "")
                         and m.get("thread_ts") for m in fake_slack.posts_in("C0STANDUP")),
             what="the item's news in the digest's thread")  # fmt: skip

    later = [compute_digest(engine, team="na", day=today + timedelta(days=n),
                            now=now + timedelta(days=n, hours=1), fresh=False)
             for n in (1, 2, 3)]  # fmt: skip
    for digest in later:
        assert [(i.text, i.owner, i.due) for i in digest.action_items] == [
            ("Fix the EMEA routing", "U0SAM", due)
        ]
    shown = json.dumps(render_digest(Renderer(), later[2])["blocks"], ensure_ascii=False)
    assert "⚠️ Fix the EMEA routing — <@U0SAM> · due" in shown and "(overdue)" in shown
    item_id = later[0].action_items[0].id
    body = slash_command_body("/pace", "", user_id="U0RITA")
    assert "Fix the EMEA routing" in _post(server, body).text  # open items, as they stand now

    def press(user: str, name: str) -> str:
        body = block_action_body(
            "action_done",
            str(item_id),
            user_id=user,
            channel="C0STANDUP",
            response_url=fake_slack.response_url(name),
            ephemeral=False,
        )
        assert _post(server, body).status_code == 200
        wait_for(lambda: _answers(fake_slack, name) != "[]", what=f"{user}'s answer")
        return _answers(fake_slack, name)

    assert "Only <@U0SAM>, whose item it is, marks" in press("U0RITA", "rita")
    assert compute_digest(
        engine,
        team="na",
        day=today + timedelta(days=1),
        now=datetime.now(UTC) + timedelta(days=1),
        fresh=False,
    ).action_items
    assert "leaves the next digest" in press("U0SAM", "sam")
    assert "is done already" in press("U0SAM", "again")
    after = compute_digest(engine, team="na", day=today + timedelta(days=1),
                           now=datetime.now(UTC) + timedelta(days=1), fresh=False)  # fmt: skip
    assert after.action_items == []
    engine.dispose()
