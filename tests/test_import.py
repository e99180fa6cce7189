"""CSV import on SQLite and PostgreSQL: formats, rejects, idempotence, --strict."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.intake import csv_import
from bot.intake.csv_import import ImportRefused, import_csv
from bot.services.agreements import apply_agreement
from storage.models import Lead, StageChange, Touch

DATA = Path(__file__).parent / "data"
EXAMPLE = Path(__file__).parent.parent / "examples" / "sla.toml"
HEADER = (
    "lead_id,email,name,company,source,segment,stage,owner_email,score,created_at,mql_at,"
    "assigned_at,sal_at,sql_at,opportunity_at,closed_at,outcome,amount,recycled_at,"
    "recycle_reason,first_touch_at"
)


@pytest.fixture
def agreed(engine: Engine) -> Engine:
    text = EXAMPLE.read_text() + (DATA / "crm_mapping.toml").read_text()
    apply_agreement(engine, text, now=datetime(2026, 11, 23, tzinfo=UTC))
    return engine


@pytest.fixture(params=["here", "in a reader process"])
def read_where(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A first import of a large file maps its rows in a process of its own: these files are
    small, so that path is taken by lowering its threshold."""
    if request.param != "here":
        monkeypatch.setattr(csv_import, "MAP_ELSEWHERE_FROM", 0)
    return str(request.param)


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def leads(engine: Engine) -> dict[str, Lead]:
    with Session(engine) as session:
        return {lead.external_id: lead for lead in session.exec(select(Lead)).scalars()}


def count(engine: Engine, model) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).scalar_one()


def lead_indexes(engine: Engine) -> list[tuple[str, list[str]]]:
    return sorted((ix["name"], ix["column_names"]) for ix in inspect(engine).get_indexes("lead"))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(
        tzinfo=None
    )  # stored as UTC, read back naive on SQLite


def as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def test_native_import_reimport_and_rejects(
    agreed: Engine, tmp_path: Path, read_where: str
) -> None:
    path = write(
        tmp_path / "leads.csv",
        HEADER,
        "L1,ann@acme.com,Ann,ACME,Website,smb,,rita@example.com,72,2026-11-02T10:00,2026-11-02T10:05,,,,,,,,,,",
        "L2,,,Beta,outbound,,sql,sam@example.com,,,2026-11-03T09:00-05:00,,,2026-11-05T16:00Z,,,,,,,",
        "L3,not-an-email,,,,,,,,,,,,,,,,,,,",
        'L4,,,"Multi\nLine Co",,,,,,,2026-13-01,,,,,,,,,,',
        "L5,,,,,,,,,,,,,,,,won,,,,",
        "L6,,,Short",
    )
    indexes = lead_indexes(agreed)
    assert ("ix_lead_mql", ["mql_at", "source", "sql_at"]) in indexes
    summary = import_csv(agreed, path, rejects_path=tmp_path / "rejects.csv")
    assert (summary.format, summary.inserted, summary.rejected) == ("native", 2, 4)
    assert lead_indexes(agreed) == indexes  # rebuilt after the bulk load
    assert [(r.line, r.column) for r in summary.examples] == [
        (4, "email"),
        (5, "mql_at"),
        (7, "closed_at"),
        (8, ""),
    ]
    with (tmp_path / "rejects.csv").open() as handle:
        rejected = list(csv.DictReader(handle))
    assert [row["_line"] for row in rejected] == ["4", "5", "7", "8"]
    assert rejected[1]["company"] == "Multi\nLine Co"  # the original cells survive
    stored = leads(agreed)
    # naive times are in the agreement's timezone (New York, EST in November): 10:05 → 15:05 UTC
    assert as_utc(stored["L1"].mql_at) == utc("2026-11-02T15:05:00")
    assert as_utc(stored["L1"].assigned_at) == utc("2026-11-02T15:05:00")  # defaults to mql_at
    assert stored["L1"].source == "website" and stored["L1"].stage == "mql"
    assert as_utc(stored["L2"].sql_at) == utc("2026-11-05T16:00:00") and stored["L2"].stage == "sql"
    history = count(agreed, StageChange)

    again = import_csv(agreed, path, rejects_path=tmp_path / "rejects.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert count(agreed, StageChange) == history

    changed = write(tmp_path / "changed.csv", HEADER, "L1,,,,,,sal,,80,,,,2026-11-03T09:00,,,,,,,,")
    result = import_csv(agreed, changed)
    assert (result.inserted, result.updated) == (0, 1)
    lead = leads(agreed)["L1"]
    assert (lead.stage, lead.score, lead.company) == ("sal", 80, "ACME")  # blanks erase nothing


def test_imported_leads_carry_their_stage_history(
    agreed: Engine, tmp_path: Path, read_where: str
) -> None:
    path = write(
        tmp_path / "history.csv",
        HEADER,
        "H1,,,,,,,,,2026-11-02T10:00,2026-11-02T10:05,,,2026-11-04T09:00,,2026-11-20T12:00,won,5000,,,",
        "H2,,,,,,,,,,2026-11-02T11:00,,,,,,,,2026-11-06T09:30,bad timing,",
    )
    for _ in range(2):  # the second import changes nothing
        import_csv(agreed, path)
    # a later export: H2 became an SQL (the other stages are already recorded)
    later = write(tmp_path / "later.csv", HEADER, "H2,,,,,,,,,,,,,2026-11-09T10:00,,,,,,,")
    assert import_csv(agreed, later).updated == 1
    with Session(agreed) as session:
        rows = session.exec(
            select(Lead.external_id, StageChange.stage, StageChange.at, StageChange.origin)
            .join(Lead, Lead.id == StageChange.lead_id)
            .order_by(Lead.external_id, StageChange.at)
        ).all()
    # New York is UTC−5 in November after the 1st
    assert [(lead, stage, as_utc(at), origin) for lead, stage, at, origin in rows] == [
        ("H1", "lead", utc("2026-11-02T15:00:00"), "import"),
        ("H1", "mql", utc("2026-11-02T15:05:00"), "import"),
        ("H1", "sql", utc("2026-11-04T14:00:00"), "import"),
        ("H1", "won", utc("2026-11-20T17:00:00"), "import"),
        ("H2", "mql", utc("2026-11-02T16:00:00"), "import"),
        ("H2", "recycled", utc("2026-11-06T14:30:00"), "import"),
        ("H2", "sql", utc("2026-11-09T15:00:00"), "import"),
    ]


def test_a_bulk_import_with_ids_repeated_across_batches_keeps_every_lead_once(
    agreed: Engine, tmp_path: Path, read_where: str
) -> None:
    """12,000 rows: three batches, each large enough for PostgreSQL's COPY path. The last
    1,000 rows repeat L0–L999 from the first batch with a new score and blank company."""
    first = [f"L{n},,,Co{n},website,,,,10,,2026-11-02T10:00,,,,,,,,,," for n in range(11_000)]
    repeats = [f"L{n},,,,,,,,90,,,,,,,,,,,," for n in range(1_000)]
    path = write(tmp_path / "bulk.csv", HEADER, *first, *repeats)
    summary = import_csv(agreed, path)
    assert (summary.inserted, summary.updated, summary.rejected) == (11_000, 1_000, 0)
    stored = leads(agreed)
    assert len(stored) == 11_000
    assert (stored["L0"].score, stored["L0"].company) == (90, "Co0")  # blank erased nothing
    assert (stored["L999"].score, stored["L1000"].score) == (90, 10)
    with Session(agreed) as session:
        stages = session.exec(
            select(StageChange.stage, func.count()).group_by(StageChange.stage)
        ).all()
    assert dict(stages) == {"mql": 11_000}  # once each, none for the repeats
    again = import_csv(agreed, path)  # applied in order again: the later row still wins
    assert again.inserted == 0
    assert leads(agreed)["L0"].score == 90 and count(agreed, StageChange) == 11_000


EXCEL_ROWS = (
    "X1,,Jürgen Müller,Café Zürich GmbH,website,,,,50,,2026-11-02T10:00,,,,,,,,,,",
    "X2,,François Lefèvre,Société Générale — Paris,outbound,,,,60,,2026-11-02T11:00,,,,,,,,,,",
)


@pytest.mark.parametrize(
    ("encoding", "delimiter", "said"),
    [
        (
            "cp1252",
            ",",
            "Windows-1252 (cp1252), comma-separated",
        ),  # Excel's "CSV (Comma delimited)"
        ("utf-8-sig", ";", "UTF-8, semicolon-separated"),  # "CSV UTF-8" where "," is the decimal
        ("utf-16", "\t", "UTF-16, tab-separated"),  # "Unicode Text"
        ("utf-8", ",", None),  # a CRM's own export: nothing to say
    ],
)
def test_excel_encodings_and_delimiters_are_read_from_the_file(
    agreed: Engine, tmp_path: Path, encoding: str, delimiter: str, said: str | None
) -> None:
    lines = [HEADER, *EXCEL_ROWS]
    if delimiter != ",":  # no cell holds a comma, so the rows convert as they are
        lines = [line.replace(",", delimiter) for line in lines]
    path = tmp_path / "excel.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    summary = import_csv(agreed, path)
    assert (summary.inserted, summary.rejected) == (2, 0)
    assert (summary.shape.describe() if not summary.shape.usual else None) == said
    stored = leads(agreed)
    assert (stored["X1"].name, stored["X1"].company) == ("Jürgen Müller", "Café Zürich GmbH")
    assert stored["X2"].company == "Société Générale — Paris"


def test_strict_writes_nothing_when_any_row_is_bad(agreed: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "leads.csv",
        HEADER,
        "L1,ann@acme.com,,,,,,,,,2026-11-02T10:05,,,,,,,,,,",
        "L2,,,,,,,,lots,,,,,,,,,,,,",
    )
    indexes = lead_indexes(agreed)
    summary = import_csv(agreed, path, strict=True)
    assert summary.aborted and summary.rejected == 1 and summary.examples[0].column == "score"
    assert count(agreed, Lead) == 0
    assert lead_indexes(agreed) == indexes  # a bulk load's dropped indexes came back


def test_touches_move_the_first_touch_earlier(agreed: Engine, tmp_path: Path) -> None:
    import_csv(
        agreed,
        write(tmp_path / "l.csv", HEADER, "L1,,,,,,,,,,2026-11-02T10:05,,,,,,,,,,2026-11-02T14:00"),
    )
    path = write(
        tmp_path / "t.csv",
        "lead_id,touched_at,kind,rep_email",
        "L1,2026-11-02T12:00,call,rita@example.com",
        "L1,2026-11-02T12:00,call,rita@example.com",
        "L1,2026-11-02T16:00,email,rita@example.com",
        "L9,2026-11-02T12:00,call,rita@example.com",
        "L1,2026-11-02T12:00,carrier pigeon,rita@example.com",
    )
    summary = import_csv(agreed, path)
    assert (summary.format, summary.touches, summary.rejected) == ("touches", 2, 2)
    assert [(r.line, r.column) for r in summary.examples] == [(6, "kind"), (5, "lead_id")]
    assert as_utc(leads(agreed)["L1"].first_touch_at) == utc("2026-11-02T17:00:00")
    assert import_csv(agreed, path).touches == 0  # the same touches again: nothing new


def test_hubspot_export(agreed: Engine, read_where: str) -> None:
    summary = import_csv(agreed, DATA / "hubspot_contacts.csv")
    assert (summary.format, summary.inserted, summary.rejected) == ("hubspot", 4, 0)
    # "Unknown Person" matches no rep: the lead is kept unowned and the owner reported
    assert summary.unowned == 1
    assert summary.fixes()[0][:3] == ("owner", "Unknown Person", 1)
    stored = leads(agreed)
    assert stored["1004"].owner_email is None and stored["1004"].crm_owner == "Unknown Person"
    ann, bob, cy = stored["1001"], stored["1002"], stored["1003"]
    assert (ann.stage, ann.owner_email, ann.source, ann.score) == (
        "mql",
        "rita@example.com",
        "organic_search",
        72,
    )
    assert as_utc(ann.assigned_at) == utc("2026-11-02T15:05:00")
    assert as_utc(ann.first_touch_at) == utc("2026-11-02T16:30:00")  # Last Contacted is a touch
    assert (bob.stage, bob.source, bob.owner_email) == ("sql", "events", "sam@example.com")
    assert as_utc(bob.assigned_at) == as_utc(bob.mql_at)  # no Owner Assigned Date: the MQL time
    assert cy.stage == "lead" and cy.mql_at is None
    assert count(agreed, Touch) == 1


def test_salesforce_report_with_footer(agreed: Engine, read_where: str) -> None:
    summary = import_csv(agreed, DATA / "salesforce_leads.csv")
    assert (summary.format, summary.inserted, summary.rejected) == ("salesforce", 4, 0)
    assert summary.skipped == 5  # blank lines, totals, copyright and confidentiality lines
    stored = leads(agreed)
    # the report's 15-character ids stored in their 18-character form (checksum worked by hand:
    # "00Q5e" has Q at position 2 → 4 → E; "00000" → A; "AbCdE" has A, C, E at 0, 2, 4 → 21 → V)
    eve, gus, hal = (stored[f"00Q5e00000AbCd{c}EAV"] for c in "EGH")
    assert (eve.stage, eve.source, eve.owner_email) == ("mql", "website", "rita@example.com")
    assert as_utc(eve.mql_at) == utc("2026-11-09T19:03:00")  # 2:03 PM New York
    assert eve.crm_url == "https://example.my.salesforce.com/00Q5e00000AbCdEEAV"
    assert (gus.stage, gus.recycle_reason, gus.source) == (
        "recycled",
        "Closed - Not Converted",
        "outbound",
    )
    assert hal.stage == "sql" and as_utc(hal.sql_at) == utc("2026-11-12T05:00:00")


def test_renamed_labels_are_configurable(engine: Engine, tmp_path: Path) -> None:
    text = EXAMPLE.read_text() + '\n[crm.hubspot.columns]\n"Record ID" = "Contact ID"\n'
    apply_agreement(engine, text, now=datetime(2026, 11, 23, tzinfo=UTC))
    path = write(
        tmp_path / "hs.csv",
        "Contact ID,Email,Lifecycle Stage",
        "77,x@y.io,Marketing Qualified Lead",
    )
    summary = import_csv(engine, path)
    assert (summary.format, summary.inserted) == ("hubspot", 1)


def test_unknown_format_is_refused(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportRefused, match="cannot tell the format"):
        import_csv(engine, write(tmp_path / "x.csv", "id,when", "1,today"))
    with pytest.raises(
        ImportRefused, match=r'needs its id column.*\[crm.hubspot.columns\] "Record ID"'
    ):
        import_csv(engine, write(tmp_path / "y.csv", "id,when", "1,today"), fmt="hubspot")


def test_memoised_offsets_agree_with_zoneinfo_across_dst() -> None:
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from hypothesis import given
    from hypothesis import strategies as st

    from bot.intake.values import parse_timestamp

    zones = st.sampled_from(
        ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]
    )
    moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31))

    @given(zones, moments)
    def agree(zone: str, local: datetime) -> None:
        tz = ZoneInfo(zone)
        local = local.replace(second=0, microsecond=0)
        expected = local.replace(tzinfo=tz).astimezone(UTC)
        got = parse_timestamp(local.isoformat(timespec="minutes"), tz, column="t")
        assert got == expected, (zone, local)
        assert got.utcoffset() == timedelta(0)

    agree()


def _thousand(prefix: str, *, broken: dict[int, str]) -> bytes:
    """A native file of 1,000 leads named with non-ASCII letters; row n is `broken[n]` where
    given (bytes as a real file would hold them)."""
    lines = ["lead_id,name,company,owner_email,mql_at"]
    for n in range(1, 1001):
        lines.append(broken.get(n) or f"{prefix}{n},Zoë Müller {n},Ørsted,rita@example.com,"
                     "2026-11-02T10:00")  # fmt: skip
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.mark.parametrize(
    ("name", "bad", "reason"),
    [
        ("nul", b"N500,Nul\x00l Name,Ac\x00me,rita@example.com,2026-11-02T10:00", None),
        ("quote", b'Q500,"Unterminated,Acme,rita@example.com,2026-11-02T10:00', "has 2 cells"),
        ("stray", b"S500,Zo\xff Name,Acme,rita@example.com,2026-11-02T10:00", "0xFF"),
    ],
)
def test_one_bad_row_never_costs_the_rest_of_the_file(
    agreed: Engine, tmp_path: Path, name: str, bad: bytes, reason: str | None
) -> None:
    """A NUL byte (dropped), an unterminated quote (one row rejected, not the 500 after it)
    and one stray 0xFF byte (one row rejected; every other row's Zoë, Müller and Ørsted read
    as UTF-8, not as Latin-1): every good row is stored intact."""
    prefix = name[0].upper()
    data = _thousand(prefix, broken={500: "\x00"})
    data = data.replace(b"\x00", bad)
    path = tmp_path / f"{name}.csv"
    path.write_bytes(data)
    summary = import_csv(agreed, path, rejects_path=tmp_path / f"{name}.rejects.csv")
    stored = leads(agreed)
    good = [f"{prefix}{n}" for n in range(1, 1001) if n != 500]
    assert all(stored[i].name == f"Zoë Müller {i[1:]}" for i in good)
    assert all(stored[i].company == "Ørsted" for i in good)
    if reason is None:  # the NUL is gone; the row is kept
        assert (summary.inserted, summary.rejected) == (1000, 0)
        assert (stored["N500"].name, stored["N500"].company) == ("Null Name", "Acme")
    else:
        assert (summary.inserted, summary.rejected) == (999, 1)
        [example] = summary.examples
        assert example.line == 501 and reason in example.reason, example
        rejected = (tmp_path / f"{name}.rejects.csv").read_bytes()
        assert bad.split(b",")[1] in rejected  # written back as it came


def test_an_older_hubspot_export_never_overwrites_a_newer_webhook_value(
    agreed: Engine, tmp_path: Path
) -> None:
    """A webhook set the company at 11:00 (UTC); an export last modified at 10:00 still says
    the old one: the export's older value does not win, its newer facts (the stage) do."""
    from bot.intake.hubspot.webhook import apply_hubspot

    eleven = int(datetime(2026, 11, 24, 11, 0, tzinfo=UTC).timestamp() * 1000)
    apply_hubspot(agreed, [{"objectId": 777, "occurredAt": eleven, "propertyName": "company",
                            "propertyValue": "New Co", "subscriptionType": "contact.propertyChange",
                            "eventId": 1, "subscriptionId": 1, "portalId": 1, "appId": 1,
                            "attemptNumber": 0, "changeSource": "CRM_UI"}])  # fmt: skip
    path = write(
        tmp_path / "hubspot-crm-exports-all-contacts.csv",
        "Record ID,Company Name,Lifecycle Stage,Last Modified Date",
        "777,Old Co,Marketing Qualified Lead,2026-11-24 05:00",  # 10:00 UTC, in New York time
    )
    import_csv(agreed, path)
    lead = leads(agreed)["777"]
    assert (lead.company, lead.stage) == ("New Co", "mql")
