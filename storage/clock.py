"""One active clock per database, and its heartbeat.

PostgreSQL: the active clock holds a session advisory lock on a connection of its own; a
standby polls for it and takes over as soon as the holder's connection is gone (the process
was killed, or its host lost). SQLite has no standby: an OS file lock beside the database
file keeps a second clock from starting at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, select, text, update
from sqlalchemy.engine import Engine, make_url

from storage.alerts import utc
from storage.db import advisory_lock, dialect_insert
from storage.models import BEATS
from storage.outages import unreachable

CLOCK_LOCK = 7215003


class ClockAlreadyRunning(Exception):
    """A second clock on an embedded SQLite database."""


def holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ClockLock:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._file: IO[str] | None = None

    def acquire(self, *, poll: float = 2.0, waiting: Callable[[], None] | None = None) -> None:
        """Become the active clock: wait for the lock on PostgreSQL (calling `waiting` once),
        refuse at once on SQLite."""
        if self.engine.dialect.name != "postgresql":
            self._lock_file()
            return
        told = False
        while not self._try():
            if waiting is not None and not told:
                waiting()
                told = True
            time.sleep(poll)

    def _try(self) -> bool:
        connection = self.engine.connect()
        taken = connection.execute(advisory_lock("pg_try_advisory_lock", CLOCK_LOCK)).scalar()
        if not taken:
            connection.close()
            return False
        connection.commit()  # the session lock outlives the transaction
        self._connection = connection
        return True

    def retake(self) -> bool | None:
        """After the lock's connection died (a database restart): True when it is ours again,
        False when a standby has it, None while the database cannot be reached."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
        try:
            return self._try()
        except Exception as error:
            if unreachable(error):
                return None
            raise

    def still_held(self) -> bool:
        """The lock's connection is alive (a database restart drops it, and the lock with it)."""
        if self.engine.dialect.name != "postgresql":
            return True  # SQLite's file lock lasts as long as the process
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except Exception:  # any failure of the connection means the lock is gone
            return False
        return True

    def release(self) -> None:
        if self._connection is not None:
            self._connection.close()  # ends the session, and the lock with it
            self._connection = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def _lock_file(self) -> None:
        database = make_url(str(self.engine.url)).database or ""
        if not database or database == ":memory:":
            return
        handle = Path(database + ".clock.lock").open("a+")  # noqa: SIM115 (held for life)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            other = handle.read().strip() or "another process"
            handle.close()
            raise ClockAlreadyRunning(
                f"another slabot clock ({other}) is running on {database}: run one clock per "
                "SQLite database (for a standby clock use PostgreSQL)"
            ) from None
        handle.truncate(0)
        handle.write(holder())
        handle.flush()
        self._file = handle


def beat(connection: Connection, *, every_s: int, now: datetime) -> None:
    statement = dialect_insert(connection, BEATS).values(
        name="clock", holder=holder(), every_s=every_s, at=now
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["name"], set_={"holder": holder(), "every_s": every_s, "at": now}
        )
    )


def took(connection: Connection, job: str, seconds: float) -> None:
    """Record how long the clock's last `job` ("scan" or "digest") took, for /metrics."""
    connection.execute(
        update(BEATS).where(BEATS.c.name == "clock").values({f"{job}_seconds": seconds})
    )


def timings(connection: Connection) -> dict[str, float]:
    row = connection.execute(
        select(BEATS.c.scan_seconds, BEATS.c.digest_seconds).where(BEATS.c.name == "clock")
    ).first()
    if row is None:
        return {}
    found = {"scan": row.scan_seconds, "digest": row.digest_seconds}
    return {job: float(seconds) for job, seconds in found.items() if seconds is not None}


def last_beat(connection: Connection) -> tuple[str, int, datetime] | None:
    """(holder, seconds between beats, when) of the latest beat, or None: no clock yet."""
    row = connection.execute(
        select(BEATS.c.holder, BEATS.c.every_s, BEATS.c.at).where(BEATS.c.name == "clock")
    ).first()
    return (row.holder, row.every_s, utc(row.at)) if row else None
