"""PostgreSQL connections that never hang: psycopg's connection with a bound on every answer,
a bounded pre-ping, and the server's statement_timeout for a serving process. Imported only
when an engine for PostgreSQL is made (psycopg is not loaded for the embedded SQLite)."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

from storage.outages import outage_reason


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


def bounded_connections(engine: Engine, statement_timeout: float | None) -> None:
    """Make the engine's connections bounded: each statement within `statement_timeout`
    (seconds) in the server and, a margin later, in the client; each checkout pinged."""
    bound = statement_timeout + ANSWER_MARGIN if statement_timeout else None

    @event.listens_for(engine, "do_connect")
    def connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> _BoundedConnection:
        connection = _BoundedConnection.connect(
            *cargs, **{"connect_timeout": CONNECT_SECONDS, **cparams}
        )
        # instants come back as UTC whatever the server's zone (psycopg then hands out
        # datetime.timezone.utc, with no zone to convert each instant from)
        connection.execute("SET TIME ZONE 'UTC'")
        if statement_timeout:
            milliseconds = int(statement_timeout * 1000)
            connection.execute(f"SET statement_timeout = {milliseconds}")
        connection.commit()  # a SET inside a transaction ends with it
        connection.bound = bound
        return connection

    event.listen(engine.pool, "checkout", _pinged)
