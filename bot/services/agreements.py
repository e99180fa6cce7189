"""The agreement in force, as a domain object."""

from __future__ import annotations

import threading
import time
from datetime import date

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.domain.agreement import Agreement
from storage import queries
from storage.models import AgreementVersion

# How long a process may answer from the version it last looked up. `slabot sla apply` in one
# process is seen by every other within this many seconds; within a process it is seen at once
# (apply calls `forget()`).
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
forget = _cache.forget


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
