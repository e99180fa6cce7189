"""Engine and sessions for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Connection, Table, TextClause, event, exc, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine


def unreachable(error: BaseException) -> bool:
    """The database is down, restarting, unreachable or too busy to answer now (a refused or
    dropped connection, a full pool, a lock or statement timeout): worth trying again soon."""
    return isinstance(error, exc.OperationalError | exc.TimeoutError) or (
        isinstance(error, exc.DBAPIError) and error.connection_invalidated
    )


BUSY_SQLSTATES = {
    "55P03",  # lock_not_available (lock_timeout)
    "57014",  # query_canceled (statement_timeout)
    "40P01",  # deadlock_detected
    "40001",  # serialization_failure
}


def busy(error: BaseException) -> bool:
    """The database is there but another transaction holds what this one needs (SQLite's
    write lock, a PostgreSQL lock or statement timeout): the same work succeeds later."""
    original = getattr(error, "orig", None)
    if original is None:
        return False
    if getattr(original, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    text = str(original).lower()
    return "database is locked" in text or "database table is locked" in text


def outage_reason(error: BaseException) -> str:
    """The driver's first line, without SQLAlchemy's statement and parameters."""
    original = getattr(error, "orig", None) or error
    return (str(original).strip().splitlines() or [type(original).__name__])[0][:200]


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


class NoAnswer(psycopg.OperationalError):
    """The database server took the connection but did not answer within the bound."""


class _BoundedConnection(psycopg.Connection):
    """psycopg's connection, waiting at most `bound` seconds for each answer. A server that
    stops answering without refusing or resetting anything (stopped, swapping, cut off behind
    a proxy) is then an unreachable database, as a refused connection is; the connection, in
    a state nobody knows, is closed so that the pool replaces it."""

    bound: float | None = None

    def wait(self, gen: Any, interval: float | None = None, timeout: float | None = None) -> Any:
        bound = timeout if timeout is not None else self.bound
        paced = {} if interval is None else {"interval": interval}
        started = time.monotonic()
        try:
            return super().wait(gen, timeout=bound, **paced)
        except psycopg.OperationalError:
            if bound is None or time.monotonic() - started < bound:
                raise
            self.pgconn.finish()
            raise NoAnswer(f"the database did not answer within {bound:g} s") from None


PING_SECONDS = 2.0  # a connection taken from the pool answers `SELECT 1` within this
CONNECT_SECONDS = 3  # libpq's connect_timeout: a new connection is made within this
ANSWER_MARGIN = 2.0  # past the server's statement_timeout, the client stops waiting


def _pinged(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """SQLAlchemy's pessimistic pre-ping, bounded: a connection from before a database
    restart, or to a server that stopped answering, is replaced rather than handed out."""
    saved = dbapi_connection.bound, dbapi_connection.autocommit
    try:
        dbapi_connection.bound, dbapi_connection.autocommit = PING_SECONDS, True
        dbapi_connection.execute("SELECT 1")
    except psycopg.Error as error:
        raise exc.DisconnectionError(outage_reason(error)) from error
    finally:
        if not dbapi_connection.closed:
            dbapi_connection.bound, dbapi_connection.autocommit = saved


def make_engine(url: str, *, statement_timeout: float | None = None) -> Engine:
    """An engine for `url`: SQLite with WAL and foreign keys on, or PostgreSQL via psycopg 3.
    `statement_timeout` (seconds, PostgreSQL) bounds every statement of a serving process, in
    the server and in the client: a request meets a busy or hung database as an error it can
    try again, never as a hang."""
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_size=5, max_overflow=5)
    bound = statement_timeout + ANSWER_MARGIN if statement_timeout else None

    @event.listens_for(engine, "do_connect")
    def connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> _BoundedConnection:
        connection = _BoundedConnection.connect(
            *cargs, **{"connect_timeout": CONNECT_SECONDS, **cparams}
        )
        if statement_timeout:
            milliseconds = int(statement_timeout * 1000)
            connection.execute(f"SET statement_timeout = {milliseconds}")
            connection.commit()  # a SET inside a transaction ends with it
        connection.bound = bound
        return connection

    event.listen(engine.pool, "checkout", _pinged)
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
