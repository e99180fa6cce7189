"""`slabot doctor`'s checks of what slabot keeps itself: the database, the agreement, the
owners nobody matches, the CRMs and the clock (Slack's side: `bot/slack/installation.py`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from bot.domain.agreement import Agreement
from bot.domain.agreement_checks import placeholders, target_checks
from bot.domain.checkup import Check
from bot.intake.registry import connected
from bot.settings import Settings
from storage import clock as clock_store
from storage import sync as sync_store
from storage.ingest_log import load_status
from storage.migrate import current_revision, head_revision


def local_checks(
    engine: Engine, settings: Settings, agreement: Agreement | None, *, now: datetime
) -> list[Check]:
    """The database's schema, the agreement in force and its placeholders, CRM owners that
    match nobody, each configured CRM's last sync and the clock's last beat."""
    current, head = current_revision(engine), head_revision(engine)
    checks = [
        Check("database", current == head, "schema",
              {"backend": engine.url.get_backend_name(), "current": current, "head": head})
    ]  # fmt: skip
    if agreement is None:
        checks.append(Check("agreement", False, "no_agreement"))
    else:
        facts = {"name": agreement.agreement.name, "reps": len(agreement.reps)}
        checks.append(Check("agreement", True, "agreement", facts))
        checks += placeholders(agreement) + target_checks(agreement)
    with engine.connect() as connection:
        loaded = load_status(connection, now=now)
        synced = sync_store.cursors(connection)
        beat = clock_store.last_beat(connection)
    unmatched = loaded.unmatched_owners
    checks.append(Check("owners", not unmatched, "owners", {"unmatched": unmatched}))
    blank = sum(loaded.unowned.values()) - sum(leads for _, _, leads in unmatched)
    if blank > 0:  # no owner in the CRM at all: nobody to map, the CRM must assign them
        checks.append(Check("owners", False, "blank_owners", {"leads": blank}))
    for crm in connected(settings):
        last = max((c.at for c in synced if c.crm == crm), default=None)
        ago = None if last is None else _ago(now - last)
        checks.append(Check("CRM", last is not None, "crm", {"crm": crm, "ago": ago}))
    if beat is None:
        checks.append(Check("clock", False, "no_clock"))
    else:
        holder, every_s, at = beat
        silent = now - at > timedelta(seconds=3 * every_s)
        facts = {"holder": holder, "ago": _ago(now - at)}
        checks.append(Check("clock", not silent, "clock", facts))
    return checks


def _ago(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    return f"{seconds // 60} min" if seconds < 7200 else f"{seconds // 3600} h"
