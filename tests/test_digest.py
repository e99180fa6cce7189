"""The stand-up digest for Friday 2026-11-20 on the example agreement (New York, US holidays,
3,900 MQLs and 1,326 SQLs a month, split 60/40 website/outbound), against a hand calculation;
then posted by `slabot digest` into the Slack stand-in, once, with its chart."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from bot.domain.pacing import PaceStatus
from bot.services.agreements import apply_agreement
from bot.services.digest import compute_digest
from storage.digest import Response, first_touches
from storage.models import Lead, Outbox, SlaClock
from tests.cli_runner import Ran, run_slabot
from tests.conftest import slabot_env
from tests.fake_slack import FakeSlack

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sla.toml"
NOW = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)  # Friday, 09:30 in New York
FRIDAY = date(2026, 11, 20)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Leads:
    """Builds lead rows; every lead gets its own external id."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, count: int = 1, **values: object) -> list[dict]:
        added = []
        for _ in range(count):
            row = {
                "source_system": "native",
                "external_id": f"L{len(self.rows) + 1}",
                "updated_at": NOW,
                **values,
            }
            self.rows.append(row)
            added.append(row)
        return added


def seed(engine: Engine) -> None:
    """The leads the hand calculation below counts (times in UTC; New York is UTC−5 in
    November after the 1st, UTC−4 before)."""
    apply_agreement(engine, EXAMPLE.read_text(), now=NOW)
    leads = Leads()
    # November MQLs before Friday 00:00 New York (05:00 UTC): 1,440 website, 950 outbound,
    # 10 events = 2,400
    leads.add(1, source="website", mql_at=at("2026-11-01T04:00:00Z"))  # Nov 1 00:00 EDT: in
    leads.add(1, source="website", mql_at=at("2026-11-20T04:59:59Z"))  # Thu 23:59:59: in
    w3 = leads.add(1318, source="website", mql_at=at("2026-11-10T15:00:00Z"))
    leads.add(120, source="website", mql_at=at("2026-11-19T15:00:00Z"))  # yesterday
    leads.add(900, source="outbound", mql_at=at("2026-11-05T15:00:00Z"))
    leads.add(50, source="outbound", mql_at=at("2026-11-19T15:00:00Z"))  # yesterday
    leads.add(10, source="events", mql_at=at("2026-11-12T15:00:00Z"))
    leads.add(1, source="website", mql_at=at("2026-11-01T03:59:59Z"))  # Oct 31: out
    leads.add(1, source="website", mql_at=at("2026-11-20T05:00:00Z"))  # Friday itself: out
    # 900 SQLs in November, 20 of them yesterday; 30 recycled, 4 of them yesterday
    for row in w3[:880]:
        row["sql_at"] = at("2026-11-12T15:00:00Z")
    for row in w3[880:900]:
        row["sql_at"] = at("2026-11-19T15:00:00Z")
    reasons = ["bad timing"] * 15 + ["no budget"] * 10 + ["student"] * 5
    for index, (row, reason) in enumerate(zip(w3[900:930], reasons, strict=True)):
        row["recycled_at"] = at("2026-11-19T16:00:00Z" if index < 4 else "2026-11-13T15:00:00Z")
        row["recycle_reason"] = reason
    # the MQL→SQL cohort: MQLs of 21 Sep – 20 Oct (New York), SQL by Friday
    cohort_web = leads.add(100, source="website", mql_at=at("2026-10-01T15:00:00Z"))
    leads.add(1, source="website", mql_at=at("2026-10-21T03:59:59Z"))  # Oct 20 23:59 EDT: in
    leads.add(1, source="website", mql_at=at("2026-10-21T04:00:00Z"))  # Oct 21: out
    cohort_out = leads.add(50, source="outbound", mql_at=at("2026-10-01T15:00:00Z"))
    for row in cohort_web[:28] + cohort_out[:15]:
        row["sql_at"] = at("2026-10-20T15:00:00Z")
    # first touches (owned, assigned, no MQL time so they do not move the counts above):
    # Mon 16th 10:00 New York, touched an hour later (10) or the next day at 10:00 (2: 7
    # business hours, late); Thu 19th 09:00, touched at 09:30 (3)
    for count, assigned, touched in (
        (10, "2026-11-16T15:00:00Z", "2026-11-16T16:00:00Z"),
        (2, "2026-11-16T15:00:00Z", "2026-11-17T15:00:00Z"),
        (3, "2026-11-19T14:00:00Z", "2026-11-19T14:30:00Z"),
    ):
        leads.add(
            count,
            owner_email="rita@example.com",
            assigned_at=at(assigned),
            first_touch_at=at(touched),
            sal_at=at(touched),
        )
    # open breaches at the stand-up: Rita's three from Thursday 09:00 (due 13:00), Sam's one
    # (Berlin hours) from Wednesday
    leads.add(3, owner_email="rita@example.com", assigned_at=at("2026-11-19T14:00:00Z"))
    leads.add(1, owner_email="sam@example.com", assigned_at=at("2026-11-18T10:00:00Z"))
    with engine.begin() as connection:
        columns = {key for row in leads.rows for key in row}
        rows = [{column: row.get(column) for column in columns} for row in leads.rows]
        connection.execute(insert(Lead.__table__), rows)


def test_friday_digest_matches_the_hand_calculation(engine: Engine) -> None:
    seed(engine)
    digest = compute_digest(engine, team="na", day=FRIDAY, now=NOW)
    figures = digest.figures
    where = figures.where
    # 19 business days in November (21 weekdays less Veterans Day and Thanksgiving); 13 done
    assert (where.business_days, where.completed, where.remaining) == (19, 13, 6)
    mqls = figures.mqls
    assert mqls.actual == 2400
    assert mqls.expected == Fraction(3900 * 13, 19)  # 2,668.42
    assert mqls.status is PaceStatus.BEHIND  # 2,400 ÷ 2,668.42 = 89.9 %
    assert mqls.projection == Fraction(2400 * 19, 13)  # 3,507.7
    assert mqls.needed_per_day == 250  # 1,500 ÷ 6
    sqls = figures.sqls
    assert sqls.actual == 900
    assert sqls.status is PaceStatus.ON_TRACK  # 900 ÷ 907.26 = 99.2 %
    assert sqls.needed_per_day == 71  # 426 ÷ 6
    by_source = {pace.name: pace for pace in figures.sources}
    assert [pace.name for pace in figures.sources] == ["website", "outbound", "other sources"]
    assert (by_source["website"].actual, by_source["website"].target) == (1440, 2340)
    assert (by_source["outbound"].actual, by_source["outbound"].target) == (950, 1560)
    assert (by_source["other sources"].actual, by_source["other sources"].target) == (10, None)
    # handed off by Thursday 13:00 (four business hours before the stand-up), owned by
    # nobody, untouched and undecided: 1 + 1 of 1 Nov, 388 of the 1,318 (930 became SQLs or
    # were recycled), 120 + 900 + 50 + 10, and the cohort's 72 + 35 + 1 + 1 never SQLs
    assert digest.unowned == 1579
    detailed = compute_digest(engine, team="na", day=FRIDAY, now=NOW, detail=True)
    assert [(p.name, p.actual) for p in detailed.figures.sources][2:] == [("events", 10)]
    assert by_source["outbound"].expected == Fraction(1560 * 13, 19)
    # yesterday = Thursday 19th in New York
    assert (digest.moved.mqls, digest.moved.sqls, digest.moved.recycled) == (171, 20, 4)
    assert digest.moved.since == date(2026, 11, 19) and digest.moved.one_day
    # recycling
    assert figures.recycled == 30
    assert figures.reasons == [("bad timing", 15), ("no budget", 10), ("student", 5)]
    # MQL→SQL cohort: 43 of 151 overall, website 28 of 101, outbound 15 of 50
    blend, *per_source = digest.cohort
    assert (blend.mqls, blend.sqls, blend.assumed) == (151, 43, Fraction(34, 100))
    assert blend.status is PaceStatus.BEHIND
    assert [(c.source, c.mqls, c.sqls, c.assumed) for c in per_source] == [
        ("website", 101, 28, Fraction(34, 100)),
        ("outbound", 50, 15, Fraction(30, 100)),
    ]
    assert (digest.cohort_since, digest.cohort_until) == (date(2026, 9, 21), date(2026, 10, 20))
    # first touches: 13 within 4 business hours, 2 late; median of 3×30, 10×60, 2×420 = 60
    response = figures.response
    assert (response.met, response.late, response.median_minutes) == (13, 2, 60)
    moved = digest.response_moved
    assert (moved.met, moved.late, moved.median_minutes) == (3, 0, 30)
    assert [(b.email, b.leads) for b in digest.breaches] == [
        ("rita@example.com", 3),
        ("sam@example.com", 1),
    ]
    # the agenda: outbound furthest behind, Rita's breaches, website's conversion
    kinds = [(item.kind, item.subject) for item in digest.agenda]
    assert kinds == [("gap", "outbound"), ("breaches", "rita@example.com"), ("quality", "website")]
    # the burn-up: one point per day before Friday, ending at the count
    assert len(digest.burnup.actual) == 19 and digest.burnup.actual[-1] == 2400
    assert digest.closing is None


def test_first_touch_median_counts_only_the_window_and_the_owners(engine: Engine) -> None:
    """The exact median of settled first touches in [Mon 2nd, Tue 3rd) New York: faster
    touches before the window, another rule's clocks and open clocks are not counted; an even
    count averages the middle two."""
    apply_agreement(engine, EXAMPLE.read_text(), now=NOW)
    leads = Leads()
    ann = leads.add(7, owner_email="ann@example.com")
    bob = leads.add(1, owner_email="bob@example.com")
    inside, before = at("2026-11-02T15:00:00Z"), at("2026-11-02T04:59:59Z")
    clocks = [  # (lead, rule, met_at, took_minutes)
        *((ann[n], "first_touch", inside, took) for n, took in enumerate((40, 10, 30, 20))),
        (ann[4], "first_touch", before, 1),
        (ann[5], "accept", inside, 2),
        (ann[6], "first_touch", None, None),
        (bob[0], "first_touch", inside, 5),
    ]
    with engine.begin() as connection:
        connection.execute(insert(Lead.__table__), leads.rows)
        ids = dict(connection.execute(select(Lead.external_id, Lead.id)).all())
        connection.execute(
            insert(SlaClock.__table__),
            [
                {
                    "lead_id": ids[lead["external_id"]],
                    "rule": rule,
                    "status": "open" if took is None else ("late" if took > 30 else "met"),
                    **dict.fromkeys(
                        ("starts_at", "warn_at", "due_at", "manager_at", "channel_at"), before
                    ),
                    "met_at": met_at,
                    "took_minutes": took,
                }
                for lead, rule, met_at, took in clocks
            ],
        )
    since, until = at("2026-11-02T05:00:00Z"), at("2026-11-03T05:00:00Z")
    with engine.connect() as connection:

        def touches(owners: list[str] | None) -> Response:
            return first_touches(connection, since=since, until=until, owners=owners)

        assert touches(None) == Response(met=4, late=1, median_minutes=20)  # 5 10 20 30 40
        assert touches(["ann@example.com"]) == Response(met=3, late=1, median_minutes=25)
        assert touches(["bob@example.com"]) == Response(met=1, late=0, median_minutes=5)
        assert touches(["cy@example.com"]) == Response()


def test_first_business_day_closes_the_previous_month(engine: Engine) -> None:
    seed(engine)
    digest = compute_digest(engine, team="na", day=date(2026, 12, 1), now=NOW)
    assert digest.figures.where.completed == 0  # Tuesday 1 December: the first business day
    closing = digest.closing
    assert closing is not None and closing.where.label == "November 2026"
    assert (closing.where.business_days, closing.where.completed) == (19, 19)
    # every November MQL counts now, Friday's too
    assert closing.mqls.actual == 2401 and closing.sqls.actual == 900
    assert closing.mqls.projection == 2401
    assert closing.conversion[0].mqls == 2401
    december = digest.figures
    assert december.mqls.status is PaceStatus.NOT_STARTED
    assert december.mqls.needed_per_day == Fraction(3900, 20)  # 20 business days in December


# -- posting through the Slack stand-in --------------------------------------------------------


def slabot(env: dict[str, str], *args: str) -> Ran:
    return run_slabot(*args, env={**env, "COLUMNS": "200"})


@pytest.fixture
def posting(engine: Engine, database_url: str, fake_slack: FakeSlack) -> dict[str, str]:
    seed(engine)
    return slabot_env(database_url, fake_slack, SLABOT_SEND_LEASE="0")


def channel_posts(fake: FakeSlack) -> list[dict]:
    return sorted(fake.posts_in("C0STANDUP"), key=lambda m: float(m["ts"]))


def test_digest_posts_once_with_its_chart_in_the_thread(
    posting: dict[str, str], fake_slack: FakeSlack, engine: Engine
) -> None:
    result = slabot(posting, "digest", "--team", "na", "--date", "2026-11-20")
    assert result.returncode == 0, result.stderr
    digest, chart = channel_posts(fake_slack)
    assert digest["text"].startswith("Stand-up na, Friday 20 November: MQLs 2,400/3,900 behind")
    shown = json.dumps(digest["blocks"], ensure_ascii=False)
    for figure in ("2,400 of 3,900", "2,668 expected by today", "Projected *3,508*",
                   "need *250 a day*", "900 of 1,326", "need *71 a day*", "+171 MQLs",
                   "<@U0RITA> 3", "<@U0SAM> 1", "86.7% this period (median 1h"):  # fmt: skip
        assert figure in shown, figure
    # Rita and Sam named from one walk of the workspace's people, not a Tier 3 look-up each
    assert len(fake_slack.calls_to("users.list")) == 1
    assert fake_slack.calls_to("users.lookupByEmail") == []
    assert digest["metadata"]["event_payload"]["key"] == "digest:na:2026-11-20"
    # the chart: a PNG threaded under the digest
    assert chart["thread_ts"] == digest["ts"]
    [file] = chart["files"]
    assert file["name"] == "burnup-na-2026-11-20.png"
    assert fake_slack.files[file["id"]]["content"].startswith(b"\x89PNG")

    again = slabot(posting, "digest", "--team", "na", "--date", "2026-11-20")
    assert again.returncode == 1
    assert "was already posted" in again.stderr and "--force" in again.stderr
    assert len(channel_posts(fake_slack)) == 2  # nothing new

    forced = slabot(posting, "digest", "--team", "na", "--date", "2026-11-20", "--force")
    assert forced.returncode == 0, forced.stderr
    assert len([m for m in channel_posts(fake_slack) if m.get("blocks")]) == 2


def test_digest_still_posts_when_the_chart_upload_fails(
    posting: dict[str, str], fake_slack: FakeSlack, engine: Engine
) -> None:
    fake_slack.fail("files.completeUploadExternal", 200, error="not_in_channel")
    result = slabot(posting, "digest", "--date", "2026-11-20")
    assert result.returncode == 0, result.stderr
    [digest] = channel_posts(fake_slack)
    assert digest["blocks"]
    with engine.connect() as connection:
        rows = connection.execute(
            Outbox.__table__.select().order_by(Outbox.__table__.c.id)
        ).mappings()
        assert [(row["kind"], row["status"]) for row in rows] == [
            ("digest", "sent"),
            ("chart", "failed"),
        ]


def test_digest_survives_slack_rate_limits(posting: dict[str, str], fake_slack: FakeSlack) -> None:
    fake_slack.fail("chat.postMessage", 429, times=2, retry_after=1)
    fake_slack.fail("files.getUploadURLExternal", 503, times=1)
    result = slabot(posting, "digest", "--date", "2026-11-20")
    assert result.returncode == 0, result.stderr
    posts = channel_posts(fake_slack)
    assert [bool(m.get("files")) for m in posts] == [False, True]


def test_dry_run_prints_the_digest_and_posts_nothing(
    posting: dict[str, str], fake_slack: FakeSlack
) -> None:
    result = slabot(posting, "digest", "--date", "2026-11-20", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "Stand-up · Friday 20 November · team na" in result.stdout
    assert "13 of 19 business days done, 6 left" in result.stdout
    assert "2,668 expected by today" in result.stdout
    assert "Projected 3,508 · need 250 a day over the 6 business days left" in result.stdout
    assert "rita@example.com holds 3 breached leads" in result.stdout
    assert not fake_slack.calls_to("chat.postMessage")


def test_unknown_team_is_named(posting: dict[str, str]) -> None:
    result = slabot(posting, "digest", "--team", "emea", "--dry-run")
    assert result.returncode == 2
    assert "no team named 'emea' in the agreement (teams: na)" in result.stderr


def test_schedule_skips_weekends_and_thanksgiving(posting: dict[str, str]) -> None:
    result = slabot(posting, "schedule", "--team", "na", "--days", "14", "--from", "2026-11-20")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 14
    runs = {line[:10]: line for line in lines if "skipped" not in line}
    skipped = {line[:10]: line for line in lines if "skipped" in line}
    assert set(skipped) == {"2026-11-21", "2026-11-22", "2026-11-26", "2026-11-28", "2026-11-29"}
    assert "Thanksgiving" in skipped["2026-11-26"] and "weekend" in skipped["2026-11-21"]
    assert all("09:00 EST (America/New_York) = 14:00 UTC" in line for line in runs.values())
    start = date(2026, 11, 20)
    assert [line[:10] for line in lines] == [
        (start + timedelta(days=n)).isoformat() for n in range(14)
    ]


def test_schedule_keeps_nine_o_clock_across_the_clock_change(posting: dict[str, str]) -> None:
    result = slabot(posting, "schedule", "--days", "7", "--from", "2026-10-29")
    lines = result.stdout.splitlines()
    assert "2026-10-29 Thu  na: 09:00 EDT (America/New_York) = 13:00 UTC" in lines[0]
    assert "2026-11-02 Mon  na: 09:00 EST (America/New_York) = 14:00 UTC" in lines[4]
    spring = slabot(posting, "schedule", "--days", "4", "--from", "2027-03-12").stdout
    assert "2027-03-12 Fri  na: 09:00 EST (America/New_York) = 14:00 UTC" in spring
    assert "2027-03-15 Mon  na: 09:00 EDT (America/New_York) = 13:00 UTC" in spring


def test_a_team_can_override_the_digest_template(
    posting: dict[str, str], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    (tmp_path / "mine" / "digest").mkdir(parents=True)
    (tmp_path / "mine" / "digest" / "digest.txt.j2").write_text(
        "Morning {{ d.team.name }}: {{ d.figures.mqls.actual | number }} MQLs so far"
    )
    env = {**posting, "SLABOT_TEMPLATES": str(tmp_path / "mine")}
    assert slabot(env, "digest", "--date", "2026-11-20").returncode == 0
    digest = next(m for m in channel_posts(fake_slack) if m.get("blocks"))
    assert digest["text"] == "Morning na: 2,400 MQLs so far"
    assert "2,668 expected by today" in json.dumps(digest["blocks"], ensure_ascii=False)


def test_a_broken_block_template_still_posts_the_figures_as_text(
    posting: dict[str, str], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    (tmp_path / "mine" / "digest").mkdir(parents=True)
    (tmp_path / "mine" / "digest" / "digest.json.j2").write_text(
        '[{"type": "section", "text": {"type": "mrkdwn", "text": ""}}]'  # Slack refuses ""
    )
    env = {**posting, "SLABOT_TEMPLATES": str(tmp_path / "mine")}
    result = slabot(env, "digest", "--date", "2026-11-20")
    assert result.returncode == 0, result.stderr
    posted = [m for m in fake_slack.posts_in("C0STANDUP") if m["text"].startswith("Stand-up na")]
    assert len(posted) == 1 and not posted[0].get("blocks")
    assert "MQLs 2,400/3,900 behind" in posted[0]["text"]
    assert "sent as text only" in result.stderr


def test_a_slack_500_after_posting_leaves_exactly_one_digest(
    posting: dict[str, str], fake_slack: FakeSlack
) -> None:
    fake_slack.fail("chat.postMessage", 500, after_doing=True)
    env = {**posting, "SLABOT_RETRY_BASE": "1"}
    result = slabot(env, "digest", "--team", "na", "--date", "2026-11-20")
    assert result.returncode == 0, result.stderr
    digests = [m for m in channel_posts(fake_slack) if m.get("blocks")]
    assert len(digests) == 1
    assert [c.status for c in fake_slack.calls if c.method == "chat.postMessage"] == [500]
    assert "1 found already in Slack" in result.stdout, result.stdout


def test_a_resend_into_a_channel_the_app_is_not_in_joins_it_first(
    posting: dict[str, str], fake_slack: FakeSlack
) -> None:
    """Posting needs no membership (chat:write.public), the look-up before a resend does: the
    app joins the public channel, looks, and finds its digest instead of failing for good."""
    fake_slack.channels["C0STANDUP"] = {"name": "standup", "is_private": False, "is_member": False}
    fake_slack.fail("chat.postMessage", 500, after_doing=True)
    result = slabot({**posting, "SLABOT_RETRY_BASE": "1"}, "digest", "--date", "2026-11-20")
    assert result.returncode == 0, result.stderr
    assert len([m for m in channel_posts(fake_slack) if m.get("blocks")]) == 1
    assert [c.body["channel"] for c in fake_slack.calls_to("conversations.join")] == ["C0STANDUP"]
    assert fake_slack.files  # the chart's look-up in the thread worked too


def test_status_joins_public_channels_and_names_private_ones_to_invite(
    posting: dict[str, str], fake_slack: FakeSlack
) -> None:
    fake_slack.channels["C0STANDUP"] = {"name": "standup", "is_private": True, "is_member": False}
    result = slabot(posting, "status")
    assert result.returncode == 0, result.stderr
    assert "C0STANDUP: slabot cannot see this channel: if it is private, invite the app" in (
        result.stdout
    )
    fake_slack.channels["C0STANDUP"] = {"name": "standup", "is_private": False, "is_member": False}
    result = slabot(posting, "status")
    assert "#standup (C0STANDUP): the app is a member" in result.stdout
    assert len(fake_slack.calls_to("conversations.join")) == 1


def test_figures_are_the_same_whichever_digest_runs_first(engine: Engine) -> None:
    """A lead is judged by the terms in force at its hand-off. Handed off Monday 16th at 10:00
    New York under a 4h first-touch window and touched at 13:00 (3 business hours), it was met;
    a version applied on the 17th for December (a 2h window) does not make it late, whether the
    December digest or the November one computes its clock first."""
    apply_agreement(engine, EXAMPLE.read_text(), now=at("2026-11-02T15:00:00Z"))
    stricter = EXAMPLE.read_text().replace('first_touch = "4h"', 'first_touch = "2h"')
    stricter = stricter.replace("effective = 2026-07-01", "effective = 2026-12-01")
    assert apply_agreement(engine, stricter, now=at("2026-11-17T17:00:00Z")).created
    with engine.begin() as connection:
        connection.execute(
            insert(Lead.__table__),
            [{"source_system": "native", "external_id": "H1", "updated_at": NOW,
              "owner_email": "rita@example.com", "assigned_at": at("2026-11-16T15:00:00Z"),
              "first_touch_at": at("2026-11-16T18:00:00Z")}],
        )  # fmt: skip

    def both(order: tuple[date, ...]) -> dict[date, object]:
        with engine.begin() as connection:  # as if no clock had been computed yet
            connection.execute(SlaClock.__table__.delete())
            connection.execute(Lead.__table__.update().values(clocks_stale=True))
        return {day: compute_digest(engine, team="na", day=day, now=NOW) for day in order}

    november, december = date(2026, 11, 20), date(2026, 12, 2)
    first = both((november, december))
    second = both((december, november))
    assert first == second
    assert first[november].figures.response == Response(met=1, late=0, median_minutes=180)


def test_a_close_out_is_judged_by_the_version_in_force_on_the_period_s_last_business_day(
    engine: Engine,
) -> None:
    """January 2027 ends on a Sunday; its last business day is Friday the 29th. A version
    taking effect on Saturday the 30th (5,000 MQLs) does not judge January's close-out: the
    digest of Monday 1 February closes January against 3,900."""
    apply_agreement(engine, EXAMPLE.read_text(), now=at("2027-01-04T15:00:00Z"))
    raised = EXAMPLE.read_text().replace("mql_target = 3900", "mql_target = 5000")
    raised = raised.replace("effective = 2026-07-01", "effective = 2027-01-30")
    assert apply_agreement(engine, raised, now=at("2027-01-05T15:00:00Z")).created
    digest = compute_digest(engine, team="na", day=date(2027, 2, 1), now=at("2027-02-01T14:00:00Z"))
    assert digest.closing is not None
    assert digest.closing.mqls.target == 3900
    assert digest.figures.mqls.target == 5000  # February runs under the new version
