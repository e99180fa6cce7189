"""The check-in before the stand-up: when it goes out (hand-counted times), to whom (not to a
rep out of office), and what the digest makes of the answers, through signed requests into
the running app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.domain.calendar import BusinessCalendar
from bot.domain.checkin import checkin_at, lead_time
from tests.conftest import RunningServer, engine_for, slabot_env, start_app, stop_server, wait_for
from tests.fake_slack import FakeSlack
from tests.signing import signed_headers
from tests.test_alert_actions import always_open_agreement

NEW_YORK = BusinessCalendar(timezone="America/New_York", holidays="US")


def test_the_check_in_follows_the_rep_s_calendar() -> None:
    """Stand-up 09:00 New York, check-in 30m: 08:30 — but the rep's day opens at 09:00, so it
    goes out at the opening only if that is before the stand-up: it is not (None). With hours
    from 08:00, 08:30 (13:30 UTC). Thanksgiving (26 Nov 2026) and an out-of-office day: none."""
    standup = datetime(2026, 11, 24, 9, tzinfo=ZoneInfo("America/New_York"))
    assert lead_time("30m") == timedelta(minutes=30) and lead_time("2h") == timedelta(hours=2)
    assert checkin_at(standup, timedelta(minutes=30), NEW_YORK) is None
    early = BusinessCalendar(timezone="America/New_York", holidays="US", opens=datetime.min.time()
                             .replace(hour=8))  # fmt: skip
    assert checkin_at(standup, timedelta(minutes=30), early) == datetime(2026, 11, 24, 13, 30,
                                                                        tzinfo=UTC)  # fmt: skip
    late = BusinessCalendar(timezone="America/New_York", opens=datetime.min.time().replace(
        hour=8, minute=45))  # fmt: skip
    assert checkin_at(standup, timedelta(minutes=30), late) == datetime(2026, 11, 24, 13, 45,
                                                                       tzinfo=UTC)  # fmt: skip
    thanksgiving = standup.replace(day=26)
    assert checkin_at(thanksgiving, timedelta(minutes=30), early) is None
    away = BusinessCalendar(timezone="America/New_York", opens=early.opens,
                            out_of_office=frozenset({date(2026, 11, 24)}))  # fmt: skip
    assert checkin_at(standup, timedelta(minutes=30), away) is None


def _midday_zone() -> tuple[str, str]:
    """A fixed-offset zone where it is now about noon, and today's date there: the stand-up at
    14:00 is ahead and the check-in 3h before it has begun, whenever the test runs."""
    utc_hour = datetime.now(UTC).hour
    offset = 12 - utc_hour  # hours east of UTC; Etc/GMT names the sign the other way round
    if offset > 12:
        offset -= 24
    zone = "Etc/GMT" + (f"-{offset}" if offset > 0 else f"+{-offset}" if offset < 0 else "")
    return zone, datetime.now(ZoneInfo(zone)).date().isoformat()


@pytest.fixture
def app(
    tmp_path: Path, fake_slack: FakeSlack, database_url: str
) -> Iterator[tuple[RunningServer, Engine, str, dict[str, str]]]:
    from bot.intake.csv_import import import_csv
    from bot.services.agreements import apply_agreement
    from storage.migrate import upgrade

    zone, today = _midday_zone()
    agreement = always_open_agreement(tmp_path).read_text()
    agreement = agreement.replace(
        'standup = "09:00"                # local time in the team\'s calendar\n'
        'timezone = "America/New_York"\n',
        f'standup = "14:00"\ntimezone = "{zone}"\ncheckin = "3h"\n',
    ).replace(
        "timezone = \"Europe/Berlin\"       # the rep's own hours count for the rep's SLA clock\n"
        'hours = "09:00-17:00"\n',
        f"out_of_office = [{today}]\n",
    )
    assert 'checkin = "3h"' in agreement and "out_of_office" in agreement
    assigned = (datetime.now(UTC) - timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "lead_id,name,company,source,owner_email,assigned_at\n"
        + "".join(f"{n},Jane {n},{company},website,{owner},{assigned}\n"
                  for n, company, owner in (("A1", "Acme", "rita@example.com"),
                                            ("A2", "Globex", "rita@example.com"),
                                            ("A3", "Initech", "rita@example.com"),
                                            ("S1", "Hooli", "sam@example.com")))
    )  # fmt: skip
    env = slabot_env(database_url, fake_slack)
    engine = engine_for(database_url)
    upgrade(engine)
    apply_agreement(engine, agreement, applied_by="test")
    import_csv(engine, leads)
    server = start_app(env, tmp_path / "serve.log")
    yield server, engine, today, env
    stop_server(server)
    engine.dispose()


def _pick(server: RunningServer, fake: FakeSlack, lead_id: int, reason: str) -> str:
    name = f"pick{lead_id}"
    payload = {
        "type": "block_actions", "team": {"id": "T0TEST", "domain": "test"},
        "user": {"id": "U0RITA", "username": "rita", "team_id": "T0TEST"},
        "api_app_id": "A0SLABOT", "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": "1.1", "channel_id": "D0RITA",
                      "is_ephemeral": False},
        "trigger_id": "123.456.jkl", "channel": {"id": "D0RITA", "name": "directmessage"},
        "response_url": fake.response_url(name),
        "actions": [{"action_id": "checkin_reason", "block_id": f"c:{lead_id}",
                     "type": "static_select", "action_ts": "1700000000.2",
                     "selected_option": {"value": f"{lead_id}|{reason}",
                                         "text": {"type": "plain_text", "text": reason}}}],
    }  # fmt: skip
    body = urlencode({"payload": json.dumps(payload)})
    assert server.post("/slack/events", body, signed_headers(body)).status_code == 200

    def answered() -> str:
        return json.dumps([c.body for c in fake.calls_to("response_url")
                           if c.path.endswith(name)])  # fmt: skip

    wait_for(lambda: answered() != "[]", what=f"the answer to the {reason} pick")
    return answered()


def _blocker(server: RunningServer, fake: FakeSlack, note: str) -> None:
    payload = {
        "type": "block_actions", "team": {"id": "T0TEST", "domain": "test"},
        "user": {"id": "U0RITA", "username": "rita", "team_id": "T0TEST"},
        "api_app_id": "A0SLABOT", "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": "1.1", "channel_id": "D0RITA"},
        "trigger_id": "123.456.mno", "response_url": fake.response_url("blocker"),
        "actions": [{"action_id": "checkin_blocker", "block_id": "blocker",
                     "type": "plain_text_input", "value": note, "action_ts": "1700000000.3"}],
    }  # fmt: skip
    body = urlencode({"payload": json.dumps(payload)})
    assert server.post("/slack/events", body, signed_headers(body)).status_code == 200
    wait_for(lambda: any(c.path.endswith("blocker") for c in fake.calls_to("response_url")),
             what="the blocker kept")  # fmt: skip


def test_a_rep_answers_the_check_in_and_the_digest_counts_it(app, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    """Rita holds three breached leads and gets the check-in; Sam, out of office today, does
    not. She says A1 is with the wrong owner and A2 did not answer, and what blocks her: the
    digest counts 1 wrong owner, 1 no answer, 1 unanswered, puts routing on the agenda and
    keeps the answers in its thread."""
    from bot.flows.delivery import sender
    from bot.services.checkins import send_checkins
    from bot.services.digest import compute_digest
    from bot.services.digest_queue import queue_digest
    from bot.settings import Settings
    from bot.slack.render import Renderer

    server, engine, today, env = app
    now = datetime.now(UTC)
    queued = send_checkins(engine, now)
    assert len(queued) == 1 and send_checkins(engine, now) == []  # once a day
    settings = Settings(**{k: v for k, v in env.items() if k.startswith(("SLACK_", "DATABASE"))})
    report = sender(engine, settings).deliver(only=queued)
    assert report.sent == 1, report.errors
    [dm] = fake_slack.posts_in("D0RITA")
    assert "Before the 14:00" in dm["text"] and "3 breached leads" in dm["text"]
    assert not fake_slack.posts_in("D0SAM")
    with engine.connect() as connection:
        ids = dict(connection.execute(text("SELECT external_id, id FROM lead")).all())
    assert "Noted for the 14:00 stand-up" in _pick(server, fake_slack, ids["A1"], "no_answer")
    _pick(server, fake_slack, ids["A1"], "wrong_owner")  # changed before the stand-up
    _pick(server, fake_slack, ids["A2"], "no_answer")
    _blocker(server, fake_slack, "Hooli's owner left the company")

    digest = compute_digest(engine, team="na", day=date.fromisoformat(today), fresh=False)
    assert digest.checkin is not None
    assert dict(digest.checkin.reasons) == {"wrong_owner": 1, "no_answer": 1}
    assert digest.checkin.unanswered == 1
    assert digest.checkin.blockers == [("rita@example.com", "Hooli's owner left the company")]
    assert digest.agenda[1].kind == "routing" and digest.agenda[1].figure == 1
    shown = Renderer().text("digest/terminal.txt.j2", d=digest)
    assert "Check-in: 1 wrong owner (→ routing) · 1 called, no answer · 1 unanswered" in shown
    assert "Routing: 1 of the 3 breached leads are with the wrong owner" in shown
    done = queue_digest(engine, Renderer(), digest)
    with engine.connect() as connection:
        thread = connection.execute(text(
            "SELECT payload FROM outbox WHERE kind = 'reply' AND update_of = :id"
        ), {"id": done.item_id}).scalar()  # fmt: skip
    thread = json.loads(thread) if isinstance(thread, str) else thread
    assert "rita@example.com — Acme: wrong owner" in thread["text"]
    assert "rita@example.com — Globex: called, no answer" in thread["text"]
