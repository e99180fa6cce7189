"""Bulk writes straight through the driver (executemany, PostgreSQL's COPY), with values
converted as SQLAlchemy itself would store them; and the moves a bulk load makes (indexes
rebuilt once, statistics kept fresh). Everything runs in the caller's transaction."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import JSON, ColumnElement, Connection, DateTime, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import SQLModel

from storage.db import begin_writing
from storage.models import LEADS

CHUNK = 900  # ids per IN (...) query


def bulk_insert(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    rows: list[tuple],
    *,
    skip_conflicts: str | None = None,
    converted: bool = False,
) -> int:
    """executemany straight through the driver: no per-value processing by SQLAlchemy, which
    costs more than the insert itself at a million rows. Values go as `driver_values` makes
    them (a JSON value as its text, a datetime on SQLite as SQLAlchemy stores it), unless
    they are `converted` already. With `skip_conflicts` (the unique columns), rows already
    there are left alone. Returns the rows inserted (-1 where the driver cannot tell)."""
    if not rows:
        return 0
    sqlite = connection.dialect.name == "sqlite"
    if not converted:
        rows = driver_values(rows, table, columns, sqlite=sqlite)
    if connection.dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        return _copy_insert(connection, table, columns, rows, skip_conflicts=skip_conflicts)
    mark = "?" if sqlite else "%s"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    if skip_conflicts:
        sql += f" ON CONFLICT ({skip_conflicts}) DO NOTHING"
    return connection.exec_driver_sql(sql, rows).rowcount


COPY_FROM = 1000  # rows: below it, a temporary table costs more than it saves


def _copy_insert(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    rows: list[tuple],
    *,
    skip_conflicts: str | None,
) -> int:
    """PostgreSQL's bulk path: COPY the rows into a temporary table of the same columns (gone
    at the end of the transaction, or with it), then one INSERT … SELECT, which skips the
    conflicts and counts what it inserted."""
    stage, names = f"slabot_stage_{table}", ", ".join(columns)
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DROP "
        f"AS SELECT {names} FROM {table} WITH NO DATA"
    )
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    insert = f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}"
    if skip_conflicts:
        insert += f" ON CONFLICT ({skip_conflicts}) DO NOTHING"
    inserted = connection.exec_driver_sql(insert).rowcount
    connection.exec_driver_sql(f"TRUNCATE {stage}")
    return inserted


def driver_values(
    rows: list[tuple], table: str, columns: Sequence[str], *, sqlite: bool
) -> list[tuple]:
    """`rows` as the driver takes them: a JSON column's value as its text; on SQLite a
    datetime as the text SQLAlchemy itself stores (naive UTC)."""
    convert = [
        (index, sqlite_time if is_time else json.dumps)
        for index, is_time in _converted(table, tuple(columns), sqlite)
    ]
    if not convert:
        return rows
    converted = []
    for row in rows:
        values = list(row)
        for index, to_driver in convert:
            if values[index] is not None:
                values[index] = to_driver(values[index])
        converted.append(tuple(values))
    return converted


def python_values(row: tuple, table: str, columns: Sequence[str], *, sqlite: bool) -> tuple:
    """A row as `driver_values` made it, as SQLAlchemy would read it back: JSON parsed, an
    SQLite time a UTC datetime."""
    values = list(row)
    for index, is_time in _converted(table, tuple(columns), sqlite):
        value = values[index]
        if value is not None:
            values[index] = (
                datetime.fromisoformat(value).replace(tzinfo=UTC) if is_time else json.loads(value)
            )
    return tuple(values)


@functools.cache
def _converted(table: str, columns: tuple[str, ...], sqlite: bool) -> list[tuple[int, bool]]:
    """(index, a time: else JSON) of the columns whose values the driver takes converted."""
    types = SQLModel.metadata.tables[table].c
    return [
        (index, isinstance(kind, DateTime))
        for index, kind in enumerate(types[name].type for name in columns)
        if isinstance(kind, JSON) or (sqlite and isinstance(kind, DateTime))
    ]


@functools.lru_cache(maxsize=1 << 17)  # a batch shares its `updated_at`, exports repeat times
def sqlite_time(value: datetime) -> str:
    return str(sqlite_value(value))


def bulk_load_pays(connection: Connection, rows: int) -> bool:
    """Rebuilding the lead indexes once beats updating them row by row when the file holds
    more leads than the table (SQLite; PostgreSQL keeps its indexes)."""
    if connection.dialect.name != "sqlite":
        return False
    return rows > (connection.execute(select(func.max(LEADS.c.id))).scalar() or 0)


def keep_statistics(connection: Connection, *, inserted: int, last: int) -> int:
    """PostgreSQL plans each batch's id look-up from the table's statistics, but an import is
    one transaction that autovacuum cannot see into: a planner that still believes the table
    empty scans all of it for every batch (quadratic: a 1,000,000-row import ran for minutes
    on one query). ANALYZE, which sees this transaction's rows, each time the import has
    doubled what it had inserted at the last one. Returns the count at the latest ANALYZE."""
    if connection.dialect.name != "postgresql" or inserted < max(2 * last, 5000):
        return last
    connection.exec_driver_sql("ANALYZE lead")
    return inserted


@contextmanager
def indexes_rebuilt_after(connection: Connection, table: str) -> Iterator[None]:
    """A bulk load into SQLite: drop `table`'s secondary indexes now and build each once at the
    end, sorted, instead of a million scattered inserts. Unique indexes stay (upserts use
    them). DDL is transactional in SQLite: a rolled-back import gets its indexes back too."""
    begin_writing(connection)
    indexes = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'",
        (table,),
    ).all()
    for name, _ in indexes:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    for _, sql in indexes:
        connection.exec_driver_sql(sql)


def sqlite_value(value: object) -> object:
    """The text SQLAlchemy stores for a datetime on SQLite ("2026-11-02 15:05:00.000000")."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        utc = value if value.tzinfo is UTC else value.astimezone(UTC)
        return utc.isoformat(" ", "microseconds")[:26]  # without the "+00:00"
    return value


def chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def one_of(
    connection: Connection, column: ColumnElement, values: Sequence
) -> Iterator[ColumnElement[bool]]:
    """Conditions that together select the rows whose `column` holds one of `values`, a query
    each: PostgreSQL takes them as one array (planning an IN of hundreds of values costs more
    than running it), SQLite a chunk at a time."""
    if connection.dialect.name == "postgresql":
        yield column == any_(bindparam("one_of", list(values), type_=ARRAY(column.type)))
        return
    for chunk in chunks(values):
        yield column.in_(chunk)
