"""Engine and sessions for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Table, TextClause, event, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def dialect_insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT with the dialect's ON CONFLICT clauses (SQLite and PostgreSQL both have them)."""
    from sqlalchemy.dialects import postgresql, sqlite

    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def advisory_lock(function: str, key: int) -> TextClause:
    """`SELECT function(key, <this schema>)`: one of PostgreSQL's advisory lock functions on
    `key` within the schema slabot's tables are in. Advisory locks belong to the whole
    database, so two installs in two schemas of one database would otherwise share them (one
    clock standing by for the other's)."""
    return text(f"SELECT {function}(:key, hashtext(current_schema()))").bindparams(key=key)


def begin_writing(connection: Connection) -> None:
    """Open SQLite's write transaction now (BEGIN IMMEDIATE). pysqlite only opens one at the
    first INSERT, UPDATE or DELETE, so a schema change before that would commit on its own."""
    if (
        connection.dialect.name == "sqlite"
        and not connection.connection.driver_connection.in_transaction  # type: ignore[union-attr]
    ):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, statement_timeout: float | None = None) -> Engine:
    """An engine for `url`: SQLite with WAL and foreign keys on, or PostgreSQL via psycopg 3.
    `statement_timeout` (seconds, PostgreSQL) bounds every statement of a serving process, in
    the server and in the client: a request meets a busy or hung database as an error it can
    try again, never as a hang."""
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    from storage.postgres import bounded_connections  # psycopg: loaded for PostgreSQL only

    engine = create_engine(url, pool_size=5, max_overflow=5)
    bounded_connections(engine, statement_timeout)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error (nothing half-written)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
