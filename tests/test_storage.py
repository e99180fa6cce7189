"""Storage on a real SQLite file and, with SLABOT_TEST_DATABASE_URL, a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.settings import Settings
from storage import queries
from storage.db import make_engine, session_scope
from storage.migrate import HEAD, current_revision, ensure_current, head_revision, upgrade
from tests.conftest import seed_agreement


def test_migrations_reach_head_and_are_idempotent(engine: Engine) -> None:
    assert current_revision(engine) == head_revision(engine) == HEAD  # the start-up check's
    assert upgrade(engine) == (head_revision(engine), head_revision(engine))
    assert "agreement_version" in inspect(engine).get_table_names()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_heroku_postgres_urls_are_accepted() -> None:
    for given in ("postgres://u:p@h:5432/d", "postgresql://u:p@h:5432/d"):
        assert Settings(DATABASE_URL=given).database_url == "postgresql+psycopg://u:p@h:5432/d"


def test_agreement_versions_in_force(engine: Engine) -> None:
    seed_agreement(engine)
    changed = {
        "agreement": {"name": "v2", "effective": "2026-07-01"},
        "marketing": {"mql_target": 4200},
    }
    seed_agreement(engine, changed, in_force_from=date(2026, 11, 1))
    with Session(engine) as session:
        assert queries.agreement_in_force(session, on=date(2026, 6, 30)) is None
        october = queries.agreement_in_force(session, on=date(2026, 10, 31))
        november = queries.agreement_in_force(session, on=date(2026, 11, 1))
        assert (october.version, october.terms["marketing"]["mql_target"]) == (1, 3900)
        assert (november.version, november.terms["marketing"]["mql_target"]) == (2, 4200)
        assert queries.latest_agreement(session).version == 2


def test_a_failed_write_leaves_nothing_behind(engine: Engine) -> None:
    try:
        with session_scope(engine) as session:
            queries.add_agreement_version(
                session,
                name="half",
                effective=date(2026, 7, 1),
                in_force_from=date(2026, 7, 1),
                period="month",
                terms={},
                applied_at=datetime.now(UTC),
            )
            raise RuntimeError("crash mid-write")
    except RuntimeError:
        pass
    with Session(engine) as session:
        assert queries.latest_agreement(session) is None


def test_embedded_database_is_upgraded_shared_one_refused(database_url: str) -> None:
    import pytest

    from storage.migrate import SchemaBehind

    engine = make_engine(Settings(DATABASE_URL=database_url).database_url)
    if engine.dialect.name == "sqlite":
        ensure_current(engine, auto_upgrade=True)
        assert current_revision(engine) == head_revision(engine)
    else:
        with pytest.raises(SchemaBehind, match="slabot db upgrade"):
            ensure_current(engine, auto_upgrade=False)
    engine.dispose()


def test_bulk_datetimes_are_stored_exactly_as_sqlalchemy_stores_them() -> None:
    """The import's driver-level inserts must write the same text the ORM writes on SQLite,
    or string comparisons between the two would go wrong."""
    from datetime import UTC, datetime, timedelta, timezone

    from sqlalchemy import DateTime
    from sqlalchemy.dialects import sqlite

    from storage.bulk import sqlite_value

    dialect = sqlite.dialect()
    orm = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    for value in (
        datetime(2026, 11, 2, 15, 5, tzinfo=UTC),
        datetime(2026, 3, 8, 7, 0, 0, 120, tzinfo=UTC),
        datetime(2026, 11, 2, 10, 5, tzinfo=timezone(timedelta(hours=-5))),
    ):
        assert sqlite_value(value) == orm(value.astimezone(UTC).replace(tzinfo=None))


def test_models_match_the_migrations(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    from storage.migrate import include_object

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_object(connection)}
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def _seed_as_of_then(engine: Engine) -> None:
    """The example agreement and three leads, written with the columns their tables have at
    this revision (the models have more since)."""
    from sqlalchemy import MetaData, Table

    from tests.conftest import EXAMPLE_TERMS

    table = Table("agreement_version", MetaData(), autoload_with=engine)
    effective = date(2026, 7, 1)
    with engine.begin() as connection:
        connection.execute(table.insert().values(
            version=1, name="Marketing & Sales SLA, H2", effective=effective,
            in_force_from=effective, period="month", terms=EXAMPLE_TERMS, source_text="",
            applied_at=datetime(2026, 7, 1, tzinfo=UTC), applied_by="",
        ))  # fmt: skip
        leads = Table("lead", MetaData(), autoload_with=connection)
        connection.execute(leads.insert(), [
            {"source_system": "hubspot", "external_id": str(n), "email": f"l{n}@acme.example",
             "mql_at": datetime(2026, 11, n, 15, tzinfo=UTC), "updated_at": datetime.now(UTC)}
            for n in (2, 3, 4)
        ])  # fmt: skip


def test_a_populated_database_of_the_previous_head_upgrades_with_nothing_lost(
    database_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A database at 0007 with an agreement, leads and queued messages, upgraded to head:
    every row is still there, the version applied then is marked unsigned, and the new
    tables are usable."""
    from datetime import UTC, datetime

    from storage import clock, outbox

    engine = make_engine(Settings(DATABASE_URL=database_url).database_url)
    upgrade(engine, "0007")
    _seed_as_of_then(engine)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        outbox.enqueue(
            connection, key="k1", kind="sla_rep", audience="rita@example.com",
            day=now.date(), payload={"text": "hi"}, now=now,
        )  # fmt: skip
    tables = ("agreement_version", "lead", "outbox", "ingest_run")

    def counts() -> dict[str, int]:
        with engine.connect() as connection:
            count = "SELECT count(*) FROM {}"
            return {t: connection.execute(text(count.format(t))).scalar() for t in tables}

    before = counts()
    assert upgrade(engine) == ("0007", head_revision(engine))
    assert counts() == before
    with engine.connect() as connection:
        signed = connection.execute(text("SELECT signed_by FROM agreement_version")).scalar()
    assert signed in ([], "[]")
    with engine.begin() as connection:
        clock.beat(connection, every_s=10, now=now)
        assert clock.last_beat(connection)[1] == 10  # type: ignore[index]
        assert outbox.alerts_sent_since(connection, now) == (0, 0)
    engine.dispose()


def test_a_queue_s_held_clocks_are_those_told_or_snoozed_past_their_warning(
    engine: Engine,
) -> None:
    """Beside a busy scan's news, each queue's other open leads come from the partial index of
    held clocks: told as far as they have reached, or snoozed. A clock due, not yet warned,
    settled, snoozed before its warning or of another owner is not among them; one told
    through the channel (nothing left to tell) is."""
    from datetime import timedelta

    from storage.alerts import held_clocks
    from storage.models import Lead, SlaClock

    now = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    hour, half = timedelta(hours=1), timedelta(minutes=30)
    # lead → (owner, warn_at, alerted, next_at, status); due an hour after the warning, the
    # manager's an hour later, the channel's an hour after that
    states = {
        "told due soon": ("rita", now - half, 1, now + half, "open"),
        "told breached": ("rita", now - 3 * half, 2, now + half, "open"),
        "told the channel": ("rita", now - 27 * hour, 4, None, "open"),
        "snoozed untold": ("rita", now - 3 * half, 0, now + hour, "open"),
        "due, untold": ("rita", now - 3 * half, 0, now - 3 * half, "open"),
        "due, told less": ("rita", now - 3 * half, 1, now - half, "open"),
        "snoozed before warning": ("rita", now + hour, 0, now + 2 * hour, "open"),
        "not warned": ("rita", now + hour, 0, now + hour, "open"),
        "met": ("rita", now - 3 * half, 2, now + half, "met"),
        "another owner's": ("sam", now - 3 * half, 2, now + half, "open"),
    }
    names = {}
    with session_scope(engine) as session:
        for name, (owner, warn, alerted, next_at, status) in states.items():
            lead = Lead(external_id=name, owner_email=f"{owner}@example.com")
            session.add(lead)
            session.flush()
            names[lead.id] = name
            session.add(
                SlaClock(lead_id=lead.id, rule="first_touch", status=status,
                         starts_at=warn - 3 * hour, warn_at=warn, due_at=warn + hour,
                         manager_at=warn + 2 * hour, channel_at=warn + 3 * hour,
                         alerted=alerted, next_at=next_at)
            )  # fmt: skip
    with engine.connect() as connection:
        held = held_clocks(connection, owners=["rita@example.com"], now=now)
    assert {(names[clock.lead.id], clock.level, clock.alerted) for clock in held} == {
        ("told due soon", 1, 1),
        ("told breached", 2, 2),
        ("told the channel", 4, 4),
        ("snoozed untold", 2, 0),
    }


def test_the_database_counts_a_clock_s_level_and_its_next_instant_as_the_rules_do(
    engine: Engine,
) -> None:
    """A busy scan reads twenty thousand clocks, so the database counts each one's level and,
    once a level is told, when the next one falls due. At each instant, and a microsecond
    before it, the level is what the SLA rules give (SQLite compares the stored text,
    PostgreSQL the instants); a snooze holds the next look until it ends."""
    from datetime import timedelta

    from sqlalchemy import select

    from storage.alerts import ClockRow, mark_alerted, queue_clocks, utc
    from storage.models import CLOCKS, Lead, SlaClock

    warn = datetime(2026, 11, 23, 14, 30, 0, 250_000, tzinfo=UTC)
    due, manager, channel = (
        warn + timedelta(hours=1),
        warn + timedelta(hours=2, microseconds=1),
        warn + timedelta(days=1),
    )
    with session_scope(engine) as session:
        lead = Lead(external_id="L1", owner_email="rita@example.com", company="Acme")
        session.add(lead)
        session.flush()
        session.add(
            SlaClock(lead_id=lead.id, rule="first_touch", starts_at=warn - timedelta(hours=3),
                     warn_at=warn, due_at=due, manager_at=manager, channel_at=channel,
                     next_at=warn)
        )  # fmt: skip

    def read(now: datetime) -> ClockRow:
        with engine.connect() as connection:
            [clock] = queue_clocks(connection, owners=["rita@example.com"], now=now, min_level=0)
        return clock

    tick = timedelta(microseconds=1)
    moments = [at + step for at in (warn, due, manager, channel) for step in (-tick, timedelta())]
    assert [read(now).level for now in moments] == [0, 1, 1, 2, 2, 3, 3, 4]
    clock = read(due)
    assert (clock.due_at, clock.lead.company, clock.lead.owner_email) == (
        due,
        "Acme",
        "rita@example.com",
    )

    def next_at(told: int, snoozed: datetime | None = None) -> datetime | None:
        with engine.begin() as connection:
            mark_alerted(connection, [(clock.id, told, snoozed)])
            return utc(connection.execute(select(CLOCKS.c.next_at)).scalar_one())

    assert next_at(1) == due
    assert next_at(2) == manager
    assert next_at(3) == channel
    assert next_at(4) is None
    assert next_at(2, snoozed=warn + timedelta(hours=5)) == warn + timedelta(hours=5)
