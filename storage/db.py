"""Engine and sessions for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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


def make_engine(url: str, *, statement_timeout: float | None = None) -> Engine:
    """An engine for `url`: SQLite with WAL and foreign keys on, or PostgreSQL via psycopg 3.
    `statement_timeout` (seconds, PostgreSQL) bounds every statement of a serving process: a
    request meets a busy database as an error it can try again, never as a hang."""
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pre-ping: a connection from before a database restart is replaced, not handed out;
    # connect_timeout: an unreachable server fails in seconds rather than hanging a request
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": 5},
    )
    if statement_timeout:
        milliseconds = int(statement_timeout * 1000)

        def bounded(dbapi_connection, _record) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {milliseconds}")
            dbapi_connection.commit()  # a SET inside a transaction ends with it

        event.listen(engine, "connect", bounded)
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
