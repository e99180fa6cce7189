"""The agreement in force, as a domain object."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.domain.agreement import Agreement
from storage import queries


def agreement_in_force(engine: Engine, *, on: date) -> Agreement | None:
    """The agreement whose terms apply on `on`, or None before any was applied.

    Versions are immutable, so the parsed terms are cached per stored version.
    """
    with Session(engine) as session:
        row = queries.agreement_in_force(session, on=on)
        if row is None:
            return None
        key = (str(engine.url), row.id or 0, row.applied_at)
        cached = _cached.get(key)
        if cached is None:
            cached = Agreement.model_validate(row.terms)
            if len(_cached) > 256:
                _cached.clear()
            _cached[key] = cached
        return cached


_cached: dict[tuple[str, int, datetime], Agreement] = {}
