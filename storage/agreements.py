"""The stored agreement versions, parsed once per process: the one in force on a day, the
newest, and every version with the instant it took effect."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.domain.agreement import Agreement, Versions, took_effect, watch_start
from bot.domain.agreement_file import changes
from storage import queries
from storage.models import AgreementVersion

# How long a process may answer from the version it last looked up. A new version applied in
# one process is seen by every other within this many seconds (at once in the same process).
PROBE_SECONDS = 2.0


class _Cache:
    """Stored versions are never rewritten, so parsed terms are kept for the process's life;
    which version is in force on a date is re-read at most every PROBE_SECONDS."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.parsed: dict[tuple[str, int], Agreement] = {}
        self.probes: dict[tuple[str, date], tuple[float, int | None]] = {}

    def forget(self) -> None:
        with self.lock:
            self.probes.clear()


_cache = _Cache()


def agreement_in_force(engine: Engine, *, on: date) -> Agreement | None:
    """The agreement whose terms apply on `on`, or None before any was applied."""
    database = str(engine.url)
    probe = _cache.probes.get((database, on))
    if probe is not None and time.monotonic() - probe[0] < PROBE_SECONDS:
        version_id = probe[1]
        if version_id is None:
            return None
        agreement = _cache.parsed.get((database, version_id))
        if agreement is not None:
            return agreement
    with Session(engine) as session:
        key = queries.agreement_version_key_in_force(session, on=on)
        version_id = key[0] if key else None
        with _cache.lock:
            if len(_cache.probes) > 1024:
                _cache.probes.clear()
            _cache.probes[(database, on)] = (time.monotonic(), version_id)
        if version_id is None:
            return None
        agreement = _cache.parsed.get((database, version_id))
        if agreement is None:
            row = session.get(AgreementVersion, version_id)
            assert row is not None
            agreement = Agreement.model_validate(row.terms)
            with _cache.lock:
                _cache.parsed[(database, version_id)] = agreement
        return agreement


def forget() -> None:
    """A new version was applied: every process's next look-up reads which is in force."""
    _cache.forget()


def changes_from_latest(
    engine: Engine, agreement: Agreement
) -> tuple[int | None, list[tuple[str, Any, Any]]]:
    """(the latest version's number, what `agreement` changes against it): what applying it
    would do, with nothing stored. (None, every key) before any version was applied."""
    terms = agreement.model_dump(mode="json")
    with Session(engine) as session:
        latest = queries.latest_agreement(session)
    if latest is None:
        return None, changes(None, terms)
    return latest.version, changes(latest.terms, terms)


def versions(connection: Connection) -> Versions | None:
    """Every applied version with the instant it took effect (None before any was applied):
    what a lead's clocks are judged by, at its hand-off. Terms are parsed once per process."""
    database = str(connection.engine.url)
    keys = queries.agreement_version_keys(connection)
    if not keys:
        return None
    missing = [key[0] for key in keys if (database, key[0]) not in _cache.parsed]
    for version_id, terms in queries.agreement_terms(connection, missing).items():
        with _cache.lock:
            _cache.parsed[(database, version_id)] = Agreement.model_validate(terms)
    dated = []
    watched: dict[str, datetime] = {}  # each rep: the first version applied with them in it
    for index, (version_id, version, in_force_from, applied_at) in enumerate(keys):
        agreement = _cache.parsed[(database, version_id)]
        start = took_effect(agreement, in_force_from, applied_at, first=index == 0)
        dated.append((start, version, agreement))
        for rep in agreement.reps:
            watched.setdefault(rep.email, _aware(applied_at))
    newest = _cache.parsed[(database, keys[-1][0])]
    dated.sort(key=lambda item: (item[0], item[1]))
    return Versions(
        tuple(start for start, _, _ in dated),
        tuple(agreement for _, _, agreement in dated),
        watched,
        watch_start(newest),
    )


def _aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def newest_agreement(engine: Engine) -> Agreement | None:
    """The newest applied version, in force yet or not (None before any was applied)."""
    with Session(engine) as session:
        row = queries.latest_agreement(session)
    return Agreement.model_validate(row.terms) if row is not None else None


def version_in_force(engine: Engine, *, on: date) -> tuple[AgreementVersion, Agreement] | None:
    """The stored version in force on `on`, with its parsed terms."""
    with Session(engine) as session:
        row = queries.agreement_in_force(session, on=on)
    if row is None:
        return None
    return row, Agreement.model_validate(row.terms)
