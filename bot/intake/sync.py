"""Live CRM sync: what changed in each connected CRM since the stored cursor, stored a page at
a time, each page and its cursor in one transaction (each CRM's pass is its folder's
`sync.py`, over `sync_pass.py`).

A pass reads pages oldest change first and stores each with the cursor moved to the page's
last modification time; a pass that dies re-reads from the cursor, and storing is idempotent
(an unchanged record is a no-op, a touch is kept once), so nothing is skipped and nothing is
stored twice. The next page is fetched while the current one is stored.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from bot.intake.errors import CrmError
from bot.intake.exports import CrmMapping
from bot.intake.mapping import ingest_context, mapping_for
from bot.intake.registry import CONNECTORS, connected
from bot.intake.sync_pass import Pass, Progress, SyncReport
from bot.intake.write_back import CrmWriter
from bot.settings import Settings
from storage import ingest_log, people

log = logging.getLogger(__name__)


def crm_writer(engine: Engine, settings: Settings) -> CrmWriter | None:
    """The write-back of Slack's actions, to each connected CRM (None: none is)."""
    names = connected(settings)
    if not names:
        return None
    crms = {name: CONNECTORS[name].records(CONNECTORS[name].client(settings)) for name in names}

    def mapping(name: str) -> CrmMapping:
        _, agreement = ingest_context(engine)
        return mapping_for(agreement, CONNECTORS[name].export)

    return CrmWriter(crms, mapping)


def _pass_mapping(engine: Engine, name: str, crm_owners: dict[str, str]) -> CrmMapping:
    """How a pass's CRM maps, with the owners its API lists and the people Slack knows."""
    _, agreement = ingest_context(engine)
    with engine.connect() as connection:
        slack_names = people.real_names(connection)
    return mapping_for(
        agreement, CONNECTORS[name].export, slack_names=slack_names, crm_owners=crm_owners
    )


def sync(
    engine: Engine,
    settings: Settings,
    *,
    crm: str | None = None,
    since: datetime | None = None,
    progress: Callable[[str], Progress] | None = None,
    stopping: threading.Event | None = None,
    budget: float | None = None,
    read_in_process: bool = False,
) -> list[SyncReport]:
    """One pass over each configured CRM (or just `crm`): what changed since its cursor (or
    `since`), within `budget` seconds. A CRM error ends that CRM's pass, keeping what it
    stored; it is in the report and the log, and the next pass resumes from the cursor.
    `read_in_process`: HubSpot's pages are read by a process of their own (`slabot sync`,
    which may be a backfill), not a thread (the clock's passes: a minute's changes)."""
    reports = []
    deadline = time.monotonic() + budget if budget is not None else None
    for name in (crm,) if crm else connected(settings):
        connector = CONNECTORS[name]
        now = datetime.now(UTC)
        work = Pass(
            engine,
            SyncReport(connector.export),
            now,
            functools.partial(_pass_mapping, engine, name),
            progress(name) if progress else None,
            stopping,
            deadline,
        )
        try:
            connector.sync(connector.client(settings), work, since, read_in_process)
        except CrmError as error:
            work.report.error = str(error)
            log.warning("%s sync: %s; the next pass resumes from the cursor", name, error)
        _log_run(engine, work.report, now)
        reports.append(work.report)
    return reports


def _log_run(engine: Engine, report: SyncReport, at: datetime) -> None:
    with engine.begin() as connection:
        ingest_log.record_run(
            connection,
            at=at,
            channel="sync",
            source_system=report.crm,
            name=f"{report.crm} API",
            counts={
                "read": report.read,
                "inserted": report.leads.inserted,
                "updated": report.leads.updated,
                "unchanged": report.leads.unchanged,
                "touches": report.touches,
                "rejected": len(report.rejected),
            },
            unmapped=ingest_log.by_kind(report.unmatched),
        )


def sync_line(report: SyncReport) -> str:
    """One pass in one line (the clock's log, the CLI's summary)."""
    leads = report.leads
    line = (
        f"{report.crm}: {report.read:,} records read, {leads.inserted:,} new, "
        f"{leads.updated:,} updated, {leads.unchanged:,} unchanged, {report.touches:,} touches"
    )
    if report.rejected:
        line += f", {len(report.rejected):,} rejected (kept; see `slabot status`)"
    if report.position is not None:
        line += f"; read up to {report.position:%Y-%m-%d %H:%M:%S} UTC"
    if report.cut_short:
        line += "; stopped early, the next pass goes on from there"
    if report.error:
        line += f"; ended early: {report.error}"
    return line
