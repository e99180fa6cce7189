"""What a database error means for the person waiting: the database is unreachable (try again
soon), busy (the same work succeeds later), and the driver's one line that says why."""

from __future__ import annotations

from sqlalchemy import exc


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
