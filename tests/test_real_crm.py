"""Customers' own CRM files, shaped as the vendors document them: a Salesforce Leads report with
its footer in en_US, en_GB and de_DE, a Data Loader extract, a Bulk API CSV, a full-width
(182-column) HubSpot contacts export with owner names. Every lead is stored, no date is
swapped, 15- and 18-character ids are one lead, a contacted status is no breach, and an open
lead seen late is news, told once to rep, manager and channel."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.intake.csv_import import ImportRefused, import_csv
from bot.intake.exports import suggested_status
from bot.intake.salesforce.ids import salesforce_id18
from bot.services.agreements import apply_agreement
from bot.services.alerts import scan
from bot.slack.directory import refresh_profiles
from bot.slack.render import Renderer
from storage.ingest_log import load_status
from storage.models import Lead, Touch
from tests.fake_slack import BOT_TOKEN, FakeSlack

DATA = Path(__file__).parent / "data"
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
AGREEMENT = """
[agreement]
name = "SLA"
effective = "2026-07-01"

[calendar]
timezone = "America/New_York"
holidays = "US"

[marketing]
mql_target = 100

[sales]
first_touch = "4h"
escalate_manager_after = "4h"
escalate_channel_after = "1bd"

[[teams]]
name = "na"
channel = "C0STANDUP"

[[reps]]
email = "rita@example.com"
team = "na"
manager = "max@example.com"
name = "Rita Ortiz"
hubspot_owner_id = "31425364"
salesforce_user_id = "0055e000004XyZq"

[[reps]]
email = "sam@example.com"
team = "na"
manager = "max@example.com"
name = "Sam Okafor"
"""


GO_LIVE = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # slabot watching since, three weeks before


def agree(engine: Engine, extra: str = "", *, now: datetime = GO_LIVE) -> None:
    apply_agreement(engine, AGREEMENT + extra, now=now)


def stored(engine: Engine) -> dict[str, Lead]:
    with Session(engine) as session:
        return {lead.external_id: lead for lead in session.exec(select(Lead)).scalars()}


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_salesforce_ids_get_salesforce_s_own_checksum() -> None:
    # Salesforce's documented example, and ids worked by hand: each 5-character chunk's upper-case
    # letters set bits (position 0 → 1, 1 → 2 …), the sum indexes A–Z then 0–5
    assert salesforce_id18("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert salesforce_id18("0055e000004XyZq") == "0055e000004XyZqAAK"  # X, Z at 1, 3 → 10 → K
    assert salesforce_id18("00Q5e000002Ab1c") == "00Q5e000002Ab1cEAC"  # Q → 4 → E; A at 1 → C
    assert salesforce_id18("00Q5e000002Ab1cEAC") == "00Q5e000002Ab1cEAC"  # 18 stays


# -- Salesforce ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SfLead:
    id15: str
    first: str
    last: str
    company: str
    email: str
    source: str
    owner: str  # as a report shows it
    status: str
    created: datetime  # New York local time
    converted: date | None = None
    activity: date | None = None


SF_LEADS = [
    SfLead("00Q5e000002Ab1c", "Bertha", "Boxer", "Farmers Coop. of Florida", "bertha@fcof.net",
           "Web", "Rita Ortiz", "Working - Contacted", datetime(2026, 11, 9, 14, 3)),
    SfLead("00Q5e000002Ab2D", "Phyllis", "Cotton", "Abbott Insurance", "pcotton@abbottins.net",
           "Web", "Rita Ortiz", "Open - Not Contacted", datetime(2026, 11, 18, 9, 30)),
    SfLead("00Q5e000002Ab3E", "Jeff", "Glimpse", "Jackson Controls", "jeffg@jackson.com",
           "Phone Inquiry", "Sam Okafor", "Open - Not Contacted", datetime(2026, 11, 3, 11, 15)),
    SfLead("00Q5e000002Ab4f", "Mike", "Braund", "Metropolitan Health Services",
           "likeb@metro.com", "Purchased List", "Rita Ortiz", "Closed - Converted",
           datetime(2026, 11, 2, 8, 45), converted=date(2026, 11, 13)),
    SfLead("00Q5e000002Ab5G", "Patricia", "Feager", "International Shipping Co.",
           "patricia_feager@is.com", "Partner Referral", "Sam Okafor", "Closed - Converted",
           datetime(2026, 11, 5, 16, 20)),  # converted, no Converted Date in this export
    SfLead("00Q5e000002Ab6h", "Brenda", "Mcclure", "Cadinal Inc.", "brenda@cardinal.net",
           "Web", "Rita Ortiz", "Closed - Not Converted", datetime(2026, 11, 4, 10, 0),
           activity=date(2026, 11, 6)),
    SfLead("00Q5e000002Ab7I", "Violet", "Maccleod", "Emerson Transport",
           "violetm@emersontransport.com", "Phone Inquiry", "Jordan Blake", "Working - Contacted",
           datetime(2026, 11, 11, 13, 5),
           activity=date(2026, 11, 12)),
    SfLead("00Q5e000002Ab8J", "Kathy", "Snyder", "TNR Corp.", "ksynder@tnr.net",
           "Purchased List", "Sam Okafor", "Meeting Booked", datetime(2026, 11, 16, 15, 45)),
]  # fmt: skip
REPORT_HEADER = ["Lead Owner", "First Name", "Last Name", "Company / Account", "Email",
                 "Lead Source", "Lead Status", "Create Date", "Converted Date", "Last Activity",
                 "Lead ID"]  # fmt: skip
LOCALES = {  # how a Salesforce report writes a date-time and a date in each user locale
    "en_US": (lambda t: f"{t.month}/{t.day}/{t.year}, {t.strftime('%-I:%M %p')}",
              lambda d: f"{d.month}/{d.day}/{d.year}"),
    "en_GB": (lambda t: t.strftime("%d/%m/%Y, %H:%M"), lambda d: d.strftime("%d/%m/%Y")),
    "de_DE": (lambda t: t.strftime("%d.%m.%Y, %H:%M"), lambda d: d.strftime("%d.%m.%Y")),
}  # fmt: skip
FOOTER = [
    [],
    ["New Leads Report"],
    ["Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."],
    ["Confidential Information - Do Not Distribute"],
    ["Generated By:  Admin User  11/23/2026, 9:14 AM"],
    ["Acme Corporation"],
]


def report(path: Path, locale: str, leads: list[SfLead] = SF_LEADS) -> Path:
    when, day = LOCALES[locale]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(REPORT_HEADER)
        for lead in leads:
            writer.writerow([
                lead.owner, lead.first, lead.last, lead.company, lead.email, lead.source,
                lead.status, when(lead.created), day(lead.converted) if lead.converted else "",
                day(lead.activity) if lead.activity else "", lead.id15,
            ])  # fmt: skip
        writer.writerows(FOOTER)
    return path


def api_csv(path: Path, *, data_loader: bool) -> Path:
    """A Data Loader extract (upper-case API names) or a Bulk API / `sf` CSV (API names): the
    same leads with 18-character ids, owner ids and ISO 8601 UTC times."""
    header = ["Id", "FirstName", "LastName", "Company", "Email", "LeadSource", "Status",
              "OwnerId", "IsConverted", "ConvertedDate", "CreatedDate", "LastModifiedDate",
              "LastActivityDate"]  # fmt: skip
    owners = {"Rita Ortiz": "0055e000004XyZqAAK", "Sam Okafor": "0055e000004XyZrAAK"}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL if data_loader else csv.QUOTE_MINIMAL)
        writer.writerow([name.upper() for name in header] if data_loader else header)
        for lead in SF_LEADS:
            created = lead.created.replace(tzinfo=NEW_YORK).astimezone(UTC)
            writer.writerow([
                salesforce_id18(lead.id15), lead.first, lead.last, lead.company, lead.email,
                lead.source, lead.status, owners.get(lead.owner, "0055e000009QqQqAAA"),
                str(lead.status == "Closed - Converted").lower(),
                lead.converted.isoformat() if lead.converted else "",
                created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                lead.activity.isoformat() if lead.activity else "",
            ])  # fmt: skip
    return path


def test_a_leads_report_in_three_locales_stores_every_lead_on_the_same_dates(
    engine: Engine, tmp_path: Path
) -> None:
    agree(engine)
    seen = {}
    for locale in LOCALES:
        summary = import_csv(engine, report(tmp_path / f"{locale}.csv", locale), strict=True)
        assert (summary.format, summary.rows, summary.rejected) == ("salesforce", 8, 0)
        assert summary.skipped == 6  # the blank line and five report lines: --strict holds
        if locale == "en_US":
            assert summary.inserted == 8
            assert (summary.date_order, summary.date_order_from) == (
                "MDY",
                "the file's own dates",
            )  # 11/18/2026: only a month can come first
        else:
            assert summary.date_order == "DMY" and summary.inserted == 0  # 18/11/2026
        seen[locale] = {key: utc(lead.created_at) for key, lead in stored(engine).items()}
    assert seen["en_US"] == seen["en_GB"] == seen["de_DE"]
    leads = stored(engine)
    assert len(leads) == 8
    bertha = leads["00Q5e000002Ab1cEAC"]
    assert utc(bertha.created_at) == datetime(2026, 11, 9, 19, 3, tzinfo=UTC)  # 2:03 PM EST
    assert bertha.owner_email == "rita@example.com"  # by the rep's name in the agreement
    violet = leads[salesforce_id18("00Q5e000002Ab7I")]
    assert (violet.owner_email, violet.crm_owner) == (None, "Jordan Blake")  # kept, unowned


def test_an_ambiguous_report_is_refused_naming_date_order_and_read_once_it_is_set(
    engine: Engine, tmp_path: Path
) -> None:
    agree(engine)
    early = [lead for lead in SF_LEADS if lead.created.day <= 12 and not lead.converted]
    path = report(tmp_path / "gb.csv", "en_GB", early)
    with pytest.raises(ImportRefused, match=r'date_order = "DMY".*\[crm.salesforce\]'):
        import_csv(engine, path)
    assert stored(engine) == {}
    agree(engine, '\n[crm.salesforce]\ndate_order = "DMY"\n')
    summary = import_csv(engine, path)
    assert summary.date_order_from == "the agreement" and summary.inserted == len(early)
    bertha = stored(engine)["00Q5e000002Ab1cEAC"]
    assert utc(bertha.created_at) == datetime(2026, 11, 9, 19, 3, tzinfo=UTC)  # 9 Nov, not 11 Sep


def test_data_loader_and_bulk_api_files_are_the_report_s_leads(
    engine: Engine, tmp_path: Path
) -> None:
    agree(engine)
    import_csv(engine, report(tmp_path / "report.csv", "en_US"))
    for data_loader in (True, False):
        summary = import_csv(engine, api_csv(tmp_path / "api.csv", data_loader=data_loader))
        assert (summary.format, summary.rows, summary.inserted, summary.rejected) == (
            "salesforce",
            8,
            0,
            0,
        )
    leads = stored(engine)
    assert len(leads) == 8  # 15- and 18-character ids of one lead are one lead
    # owner ids: Rita's 15-character id in the agreement matches the file's 18-character one
    assert leads["00Q5e000002Ab1cEAC"].owner_email == "rita@example.com"
    unknown = leads[salesforce_id18("00Q5e000002Ab7I")]
    assert unknown.owner_email is None and unknown.crm_owner == "0055e000009QqQqAAA"


def test_statuses_are_evidence_and_unknown_ones_are_reported(
    engine: Engine, tmp_path: Path
) -> None:
    agree(engine)
    summary = import_csv(engine, report(tmp_path / "us.csv", "en_US"), now=NOW)
    assert summary.fixes() == [
        ("owner", "Jordan Blake", 1,
         'name = "Jordan Blake" on the rep, or [crm.salesforce.owners] "Jordan Blake" = '
         '"rep@yourco.com"'),
        ("status", "Meeting Booked", 1,
         '[crm.salesforce.statuses] "Meeting Booked" = "contacted"  # a rep reached the lead: '
         'a touch, the stage unchanged'),
    ]  # fmt: skip
    leads = stored(engine)
    with Session(engine) as session:
        touches = {
            (lead_id, kind, utc(at))
            for lead_id, kind, at in session.exec(
                select(Touch.lead_id, Touch.kind, Touch.touched_at)
            ).all()
        }
    bertha, patricia = leads["00Q5e000002Ab1cEAC"], leads[salesforce_id18("00Q5e000002Ab5G")]
    # Working - Contacted with no Last Activity: a touch inferred at the import's time
    assert (bertha.id, "inferred", NOW) in touches
    # Closed - Converted without a date: an SQL counted when slabot learnt it, not dropped
    assert patricia.stage == "sql" and utc(patricia.sql_at) == NOW
    kathy = leads[salesforce_id18("00Q5e000002Ab8J")]
    assert kathy.stage == "mql"  # the unknown status changes nothing, the lead is kept
    # a re-import of the same file infers no second touch
    import_csv(engine, report(tmp_path / "us.csv", "en_US"), now=NOW.replace(hour=16))
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Touch)).scalar_one() == len(touches)

    # the scan at Monday noon: no first-touch alert for a lead the CRM says was contacted
    result = scan(engine, Renderer(), now=datetime(2026, 11, 23, 17, 0, tzinfo=UTC), dry_run=True)
    told = {
        (message.kind, message.audience): {line.lead.id for line in message.lines}
        for message in result.messages
    }
    # Phyllis, Open - Not Contacted since Wednesday ("2Ab2D": A, D at 1, 4 → 18 → S)
    assert leads["00Q5e000002Ab2DEAS"].id in told[("sla_rep", "rita@example.com")]
    assert all(
        clock.rule != "first_touch"
        for message in result.messages
        for line in message.lines
        if line.lead.id == bertha.id
        for clock in line.clocks
    )


# A Data Loader extract of an org with the newer default Lead Status set, shaped as a real org's
# export is (quoted API names, 0/1 checkboxes, ConvertedDate a date written with a midnight
# time, naive CreatedDate times; a subset of its 68 columns, in its order)
NEWER_ORG = """\
"Id","IsDeleted","FirstName","LastName","Company","Email","LeadSource","Status","OwnerId",\
"IsConverted","ConvertedDate","ConvertedAccountId","CreatedDate","LastModifiedDate",\
"LastActivityDate"
"00Q8a00001ufW0AEAU","0","Ana","Ruiz","Pepsico","ana@pepsico.example","Website","Qualified",\
"0055e000004XyZqAAK","1","2026-11-18 00:00:00","0018a00001xyzAAA","2026-11-18 14:27:52",\
"2026-11-18 14:30:44",""
"00Q8a00001v6jROEAY","0","Omar","Diaz","OMD PHP","omar@omd.example","Website","Qualified",\
"0055e000004XyZqAAK","1","2026-11-20 00:00:00","0018a00001xyzAAB","2026-11-16 14:52:30",\
"2026-11-20 16:53:05",""
"00Q8a00001ugPCmEAM","0","Lia","Sosa","Stargroup","lia@star.example","Website",\
"Converted - Partner","0055e000004XyZqAAK","1","2026-11-19 00:00:00","0018a00001xyzAAC",\
"2026-11-19 19:52:08","2026-11-19 19:56:05",""
"00Q8a00001ufW1AEAU","0","Noa","Vega","Vega SA","noa@vega.example","Website","New",\
"0055e000004XyZqAAK","0","","","2026-11-18 09:10:00","2026-11-18 09:10:00",""
"00Q8a00001ufW2AEAU","0","Eli","Mora","Mora SL","eli@mora.example","Website","Working",\
"0055e000004XyZqAAK","0","","","2026-11-18 09:20:00","2026-11-18 11:00:00","2026-11-18"
"00Q8a00001ufW3AEAU","0","Ivo","Paz","Paz SRL","ivo@paz.example","Website","Nurturing",\
"0055e000004XyZqAAK","0","","","2026-11-18 09:30:00","2026-11-19 10:00:00",""
"00Q8a00001ufW4AEAU","0","Ada","Gil","Gil SA","ada@gil.example","Website","Unqualified",\
"0055e000004XyZqAAK","0","","","2026-11-18 09:40:00","2026-11-19 11:00:00",""
"""


def test_converted_leads_and_the_newer_default_status_set(engine: Engine, tmp_path: Path) -> None:
    agree(engine)
    path = tmp_path / "Lead.csv"
    path.write_text(NEWER_ORG, encoding="utf-8")
    summary = import_csv(engine, path, now=NOW)
    assert (summary.format, summary.inserted, summary.rejected) == ("salesforce", 7, 0)
    assert summary.fixes() == [
        ("status", "Converted - Partner", 1,
         '[crm.salesforce.statuses] "Converted - Partner" = { stage = "sql", contacted = true }  '
         "# qualified or converted by sales: an SQL"),
    ]  # fmt: skip
    leads = stored(engine)
    ana, omar, lia = (leads[i] for i in ("00Q8a00001ufW0AEAU", "00Q8a00001v6jROEAY",
                                         "00Q8a00001ugPCmEAM"))  # fmt: skip
    # converted the day it was created: not at that day's midnight, before its creation
    assert (ana.stage, utc(ana.sql_at)) == ("sql", datetime(2026, 11, 18, 19, 27, 52, tzinfo=UTC))
    # converted days later: the start of that day in the agreement's timezone
    assert utc(omar.sql_at) == datetime(2026, 11, 20, 5, 0, tzinfo=UTC)
    # IsConverted is read even where the status is one nobody mapped
    assert (lia.stage, utc(lia.sql_at)) == ("sql", datetime(2026, 11, 20, 0, 52, 8, tzinfo=UTC))
    # Last Activity is a date too: the same day's activity is not before the lead existed
    eli = leads["00Q8a00001ufW2AEAU"]
    assert utc(eli.first_touch_at) == datetime(2026, 11, 18, 14, 20, tzinfo=UTC)
    newer = [leads[f"00Q8a00001ufW{n}AEAU"].stage for n in (1, 2, 3, 4)]
    assert newer == ["mql", "sal", "recycled", "recycled"]  # New, Working, Nurturing, Unqualified
    result = scan(engine, Renderer(), now=datetime(2026, 11, 23, 17, 0, tzinfo=UTC), dry_run=True)
    told = {line.lead.id for message in result.messages for line in message.lines}
    assert told == {leads["00Q8a00001ufW1AEAU"].id}  # only "New" is still to contact


def test_leads_no_clock_can_start_for_are_counted_with_the_column_to_export(
    engine: Engine, tmp_path: Path
) -> None:
    agree(engine)
    # an Excel re-save of a Data Loader extract that lost its CreatedDate column
    table = list(csv.reader(NEWER_ORG.splitlines()))
    drop = table[0].index("CreatedDate")
    path = tmp_path / "Lead.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([c for i, c in enumerate(row) if i != drop] for row in table)
    summary = import_csv(engine, path, now=NOW)
    # no lead has a hand-off time now; no status, not even "New", makes one up
    assert (summary.inserted, summary.undated) == (7, 7)
    assert summary.handoff_columns() == "Create Date / Created Date"
    with engine.connect() as connection:
        assert load_status(connection, now=NOW).undated == {"salesforce": 7}


@pytest.mark.parametrize(
    ("status", "suggested"),
    [
        ("Open - Not Contacted", "mql"),  # "contacted" in the name, but not yet
        ("Closed - Not Converted", "recycled"),  # "converted" in the name, but not
        ("Closed - Converted", "sql"),
        ("Working - Contacted", "contacted"),
        ("New", "mql"),
        ("Renewal pending", "mql"),  # "new" only as part of a word: nothing said
        ("Nurture - Q3", "recycled"),
        ("BAD_TIMING", "recycled"),
        ("Unqualified", "recycled"),
        ("Sales Accepted", "sal"),
        ("ATTEMPTED_TO_CONTACT", "contacted"),
        ("Meeting Booked", "contacted"),
        ("Pending Review", "mql"),  # nothing in the name: no touch is assumed
    ],
)
def test_an_unknown_status_is_suggested_what_its_name_supports(status: str, suggested: str) -> None:
    assert suggested_status(status) == suggested


def test_a_lead_seen_late_is_told_once_to_rep_manager_and_channel(
    engine: Engine, tmp_path: Path
) -> None:
    """slabot has been watching for three weeks; a weekly export brings a lead breached last
    Wednesday: news, late, to each audience once."""
    agree(engine)
    header = "lead_id,name,company,source,owner_email,mql_at"
    path = tmp_path / "weekly.csv"
    # assigned last Wednesday, never contacted: breached Wednesday afternoon, first seen Monday
    path.write_text(f"{header}\nLATE1,Ann,ACME,website,rita@example.com,2026-11-18T10:00\n")
    import_csv(engine, path, now=NOW)
    first = scan(engine, Renderer(), now=NOW)
    told = {(message.kind, message.audience) for message in first.messages}
    assert told == {
        ("sla_rep", "rita@example.com"),
        ("sla_manager", "max@example.com"),
        ("sla_channel", "C0STANDUP"),
    }
    assert all(len(message.lines) == 1 for message in first.messages)  # one line per audience
    again = scan(engine, Renderer(), now=NOW.replace(minute=5))
    assert again.messages == []


def test_on_day_one_what_happened_before_slabot_watched_is_counted_never_paged(
    engine: Engine, tmp_path: Path
) -> None:
    """Go-live is this Monday morning: the first import (no --history) brings last month's
    leads, breached long ago. The first scan pages nobody, the queues and the digest still
    show them; a lead breached after go-live is paged, once."""
    from bot.services.alerts import audience_message
    from bot.services.digest import compute_digest
    from storage.agreements import agreement_in_force

    go_live = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York
    agree(engine, now=go_live)
    header = "lead_id,name,company,source,owner_email,mql_at"
    path = tmp_path / "first.csv"
    path.write_text(
        f"{header}\nOLD1,Ann,Acme,website,rita@example.com,2026-10-27T10:00\n"
        "OLD2,Bob,Globex,website,sam@example.com,2026-11-18T10:00\n"
        # assigned Monday 08:00 New York (before opening): due 13:00, breached after go-live
        "NEW1,Cy,Initech,website,rita@example.com,2026-11-23T08:00\n"
    )
    import_csv(engine, path, now=go_live)
    assert scan(engine, Renderer(), now=go_live).messages == []
    digest = compute_digest(engine, team="na", day=date(2026, 11, 23), now=go_live)
    assert {(b.email, b.leads) for b in digest.breaches} == {
        ("rita@example.com", 1),
        ("sam@example.com", 1),
    }
    agreement = agreement_in_force(engine, on=go_live.date())
    assert agreement is not None
    with engine.connect() as connection:
        queue = audience_message(connection, agreement, Renderer(), kind="sla_rep",
                                 audience="rita@example.com", now=go_live, min_level=0)  # fmt: skip
    assert {line.lead.company for line in queue.lines} == {"Acme", "Initech"}

    later = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)  # 13:30: NEW1 breached at 13:00
    told = scan(engine, Renderer(), now=later)
    assert [(m.kind, m.audience) for m in told.messages] == [("sla_rep", "rita@example.com")]
    assert told.messages[0].lines[0].lead.company == "Initech"
    assert scan(engine, Renderer(), now=later.replace(minute=45)).messages == []


def test_a_channel_escalation_lists_its_news_and_counts_the_rest(
    engine: Engine, tmp_path: Path
) -> None:
    """The channel heard about Acme yesterday; today Globex crosses the channel window. The
    post lists Globex alone and says one lead escalated before is still open."""
    agree(engine)
    header = "lead_id,name,company,source,owner_email,mql_at"
    path = tmp_path / "two.csv"
    path.write_text(
        f"{header}\nA1,Ann,Acme,website,rita@example.com,2026-11-16T10:00\n"
        "G1,Bob,Globex,website,rita@example.com,2026-11-17T10:00\n"
    )
    morning = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in New York
    import_csv(engine, path, now=morning)
    first = {m.kind: m for m in scan(engine, Renderer(), now=morning).messages}
    assert [line.lead.company for line in first["sla_channel"].lines] == ["Acme"]

    afternoon = datetime(2026, 11, 18, 20, 0, tzinfo=UTC)  # 15:00: Globex's day is past
    later = {m.kind: m for m in scan(engine, Renderer(), now=afternoon).messages}
    channel = later["sla_channel"]
    assert [line.lead.company for line in channel.lines] == ["Globex"]
    assert "1 lead escalated here before is still open" in channel.text
    assert "1 lead escalated here before is still open" in json.dumps(channel.blocks)


def test_first_touches_on_unowned_leads_count_in_the_response_figures(
    engine: Engine, tmp_path: Path
) -> None:
    """Two of three leads have no owner slabot knows; all three were contacted. The response
    figure counts three first touches (it counted one), and nobody is paged about them."""
    from bot.services.digest import compute_digest

    agree(engine)
    path = tmp_path / "touched.csv"
    path.write_text(
        "lead_id,name,company,source,owner_email,mql_at,first_touch_at\n"
        "T1,Ann,Acme,website,rita@example.com,2026-11-18T10:00,2026-11-18T11:00\n"
        "T2,Bob,Globex,website,,2026-11-18T10:00,2026-11-18T12:00\n"
        "T3,Cy,Initech,website,,2026-11-18T10:00,2026-11-19T16:00\n"
    )
    summary = import_csv(engine, path, now=NOW)
    assert summary.unowned == 2
    told = scan(engine, Renderer(), now=NOW).messages  # Acme's later rules: Rita's news
    assert {line.lead.company for message in told for line in message.lines} == {"Acme"}
    digest = compute_digest(engine, team="na", day=date(2026, 11, 23), now=NOW)
    assert (digest.figures.response.met, digest.figures.response.late) == (2, 1)


def test_naive_times_before_the_first_agreement_is_in_force_are_in_its_timezone(
    engine: Engine, tmp_path: Path
) -> None:
    """The agreement applied today takes effect in January: an import now still reads a naive
    10:00 as New York's 10:00 (15:00 UTC), never as UTC."""
    apply_agreement(engine, AGREEMENT.replace('"2026-07-01"', '"2027-01-01"'), now=NOW)
    path = tmp_path / "early.csv"
    path.write_text("lead_id,owner_email,mql_at\nE1,rita@example.com,2026-11-20T10:00\n")
    import_csv(engine, path, now=NOW)
    assert utc(stored(engine)["E1"].mql_at) == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def test_a_history_import_tells_nobody(engine: Engine, tmp_path: Path) -> None:
    agree(engine)
    path = tmp_path / "backfill.csv"
    path.write_text(
        "lead_id,owner_email,mql_at\nOLD1,rita@example.com,2026-10-05T10:00\n"
        "OLD2,sam@example.com,2026-11-19T10:00\n"
    )
    assert import_csv(engine, path, history=True, now=NOW).history
    assert scan(engine, Renderer(), now=NOW).messages == []


# -- HubSpot ------------------------------------------------------------------------------


def test_a_full_width_hubspot_export_keeps_every_contact(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    agree(engine)
    # Melissa Conroy is in Slack but not in the agreement: her Slack profile's real name finds her
    fake_slack.users_by_email["melissa@example.com"] = "U0MELISSA"
    fake_slack.real_names["melissa@example.com"] = "Melissa Conroy"
    refresh_profiles(engine, WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url))

    summary = import_csv(engine, DATA / "hubspot_full_export.csv", now=NOW)
    assert (summary.format, summary.rows, summary.inserted, summary.rejected) == (
        "hubspot",
        7,
        7,
        0,
    )
    leads = stored(engine)
    assert leads["51"].owner_email == "rita@example.com"  # "Rita Ortiz": the agreement's name
    assert leads["52"].owner_email == "melissa@example.com"  # Slack real name
    assert leads["53"].owner_email == "sam@example.com"  # "Sam Okafor sam@example.com"
    assert leads["54"].owner_email is None and leads["54"].crm_owner is None  # no owner yet
    assert leads["57"].owner_email is None and leads["57"].crm_owner == "Jordan Blake"
    # custom lifecycle stage 1029384756: kept and reported; its MQL date still makes it an MQL
    assert leads["55"].stage == "mql"
    assert summary.unowned == 2  # 54 has no owner yet, 57's owner matches nobody
    assert (leads["52"].source, leads["55"].source) == ("offline_sources", "organic_social")
    assert leads["56"].stage == "recycled" and leads["56"].recycle_reason == "Unqualified"
    assert {(what, value) for what, value, _, _ in summary.fixes()} == {
        ("owner", "Jordan Blake"),
        ("stage", "1029384756"),
    }
    with Session(engine) as session:
        ann_touch = session.exec(
            select(Touch.kind, Touch.touched_at).where(Touch.lead_id == leads["51"].id)
        ).one()
    # "Attempted to Contact", no Last Contacted: inferred at Last Modified (15:40 New York)
    assert (ann_touch[0], utc(ann_touch[1])) == (
        "inferred",
        datetime(2026, 11, 16, 20, 40, tzinfo=UTC),
    )

    # the mapping changes: rows whose cells did not change are mapped again
    agree(
        engine,
        '\n[crm.hubspot.stages]\n"1029384756" = "sal"\n'
        '[crm.hubspot.owners]\n"Jordan Blake" = "sam@example.com"\n',
    )
    again = import_csv(engine, DATA / "hubspot_full_export.csv", now=NOW)
    assert again.unchanged == 0 and again.updated == 7 and again.fixes() == []
    leads = stored(engine)
    assert leads["55"].stage == "sal" and leads["57"].owner_email == "sam@example.com"


def test_the_older_contact_id_header_is_a_hubspot_export(engine: Engine, tmp_path: Path) -> None:
    agree(engine)
    path = tmp_path / "old.csv"
    path.write_text(
        "Contact ID,First Name,Email,Lifecycle Stage,Create Date\n"
        "901,Ada,ada@x.io,Marketing Qualified Lead,2026-11-20 09:00\n"
    )
    summary = import_csv(engine, path)
    assert (summary.format, summary.inserted) == ("hubspot", 1)
    assert stored(engine)["901"].stage == "mql"


def test_unowned_leads_past_the_window_show_in_the_digest(engine: Engine, tmp_path: Path) -> None:
    from bot.services.digest import compute_digest
    from bot.slack.messages.digest import render_digest

    agree(engine)
    path = tmp_path / "unowned.csv"
    # Friday 20 November, New York: 4 business hours run out at 13:00 for the 09:00 hand-off,
    # and Monday 11:00 for the 15:00 one (Friday 15:00–17:00, then Monday 09:00–11:00)
    path.write_text(
        "lead_id,owner_email,mql_at,first_touch_at\n"
        "U1,,2026-11-20T09:00,\n"
        "U2,,2026-11-20T15:00,\n"
        "U3,,2026-11-20T09:00,2026-11-20T10:00\n"  # touched: not a routing gap
        "U4,rita@example.com,2026-11-20T09:00,\n"  # owned: a rep's breach, not routing
    )
    import_csv(engine, path, now=NOW)
    digest = compute_digest(engine, team="na", day=date(2026, 11, 23), now=NOW)
    assert digest.unowned == 1  # at 09:00 Monday U2 still has two business hours
    blocks = render_digest(Renderer(), digest)["blocks"]
    sales = next(b["text"]["text"] for b in blocks if "Sales response" in str(b))
    lines = sales.splitlines()  # U4's breach and the routing gap, each on its own line
    assert lines[2].startswith(":warning: Breached leads still open: rita@example.com 1"), sales
    assert lines[3].startswith(":busstop: 1 unowned lead past the first-touch window"), sales


def test_an_owner_named_later_takes_the_leads_kept_unowned(engine: Engine) -> None:
    from bot.intake.hubspot.webhook import apply_hubspot
    from bot.intake.unowned import assign_known_owners

    agree(engine)
    at = int(NOW.timestamp() * 1000)
    event = {"objectId": 880, "occurredAt": at, "subscriptionType": "contact.propertyChange",
             "propertyName": "hubspot_owner_id", "propertyValue": "77001122"}  # fmt: skip
    result = apply_hubspot(engine, [event])
    assert result.unowned == 1 and "hubspot_owner_id" in result.unmatched[0]
    assert stored(engine)["880"].owner_email is None
    assert assign_known_owners(engine, _agreement(engine)) == 0  # still nobody's id

    apply_agreement(
        engine,
        AGREEMENT.replace(
            'name = "Sam Okafor"', 'name = "Sam Okafor"\nhubspot_owner_id = "77001122"'
        ),
        now=NOW,
    )
    assert assign_known_owners(engine, _agreement(engine)) == 1
    lead = stored(engine)["880"]
    assert (lead.owner_email, lead.clocks_stale) == ("sam@example.com", True)


def _agreement(engine: Engine):  # type: ignore[no-untyped-def]
    from storage.agreements import agreement_in_force

    return agreement_in_force(engine, on=NOW.date())
