"""Live CRM sync: what changed in HubSpot or Salesforce since the stored cursor, stored a page
at a time, each page and its cursor in one transaction.

A pass reads pages oldest change first and stores each with the cursor moved to the page's
last modification time; a pass that dies re-reads from the cursor, and storing is idempotent
(an unchanged record is a no-op, a touch is kept once), so nothing is skipped and nothing is
stored twice. The next page is fetched while the current one is stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from bot.crm import CrmError, records
from bot.crm.hubspot_api import HubSpotApi
from bot.crm.reader_process import prefetched, read_elsewhere
from bot.crm.salesforce_api import TASK_FIELDS, SalesforceApi, credentials
from bot.crm.write_back import CrmWriter
from bot.domain.crm_exports import CrmMapping
from bot.domain.ingest import LeadRecord, RowError
from bot.services.crm_mapping import ingest_context, mapping_for
from bot.services.sync_pass import (
    Pass,
    Progress,
    SyncReport,
    gathered,
    pass_mapping,
)
from bot.settings import Settings
from storage import ingest_log, outbox
from storage import sync as cursors
from storage.ingest import Known, lead_ids

log = logging.getLogger(__name__)
CRMS = ("hubspot", "salesforce")


# -- HubSpot -------------------------------------------------------------------------------


def sync_hubspot(
    api: HubSpotApi, work: Pass, since: datetime | None, *, read_in_process: bool = False
) -> None:
    mapping = pass_mapping(work, api.owners())
    with work.engine.connect() as connection:
        start = since or cursors.cursor(connection, "hubspot", "contacts")
    args = (api.token, api.base_url, start, mapping, work.now)
    pages = (
        read_elsewhere(records.changed_contacts, *args)
        if read_in_process
        else records.changed_contacts(*args)  # fetched on a thread, read on this one
    )
    for found, total, last in gathered(pages, lambda page: page.records):
        work.read(len(found), total)
        rejected: list[tuple[object, str]] = []
        leads, known = work.changed_leads(found, rejected)
        work.store("contacts", leads, (), rejected, position=last, count=len(found), known=known)
        if work.over():
            return


# -- Salesforce ----------------------------------------------------------------------------
def sync_salesforce(api: SalesforceApi, work: Pass, since: datetime | None) -> None:
    """Leads first, then completed Tasks on leads (calls, emails, meetings → touches)."""
    users = api.users()
    mapping = pass_mapping(work, users)
    with work.engine.connect() as connection:
        lead_start = since or cursors.cursor(connection, "salesforce", "leads")
        task_start = since or cursors.cursor(connection, "salesforce", "tasks")
    fields = records.salesforce_fields(mapping)
    reader = records.ApiReader(
        mapping, records.salesforce_header(fields), now=work.now, what="lead"
    )

    def lead_records(
        found: Iterable[dict], rejected: list[tuple[object, str]]
    ) -> tuple[list[LeadRecord], Known]:
        read = [reader.read(records.salesforce_cells(lead, fields, users)) for lead in found]
        return work.changed_leads(read, rejected)

    pages = prefetched(api.changed("Lead", fields, lead_start))
    for found, total, last in gathered(pages, lambda page: page.records):
        work.read(len(found), total)
        rejected: list[tuple[object, str]] = []
        leads, known = lead_records(found, rejected)
        work.store("leads", leads, (), rejected, position=last, count=len(found), known=known)
        if work.over():
            return

    for page in prefetched(api.changed("Task", TASK_FIELDS, task_start, where="IsClosed = true")):
        work.read(len(page.records), page.total)
        if not page.records or page.last_modified is None:
            break
        rejected = []
        touches = []
        with work.engine.connect() as connection:  # slabot's own write-backs come back too
            own = outbox.written_records(
                connection, "salesforce", [str(task.get("Id")) for task in page.records]
            )
        for task in page.records:
            if str(task.get("Id")) in own:
                continue
            try:
                touch = records.task_touch(task, users)
            except RowError as error:
                rejected.append((_plain(task), f"task {task.get('Id')}: {error}"))
                continue
            if touch is not None:
                touches.append((task, touch))
        # a task on a lead no pass has stored yet (created after the leads were read): the
        # lead is read now and stored with the task, so the touch is never lost
        with work.engine.connect() as connection:
            known = lead_ids(
                connection,
                source_system="salesforce",
                external_ids=sorted({touch.lead_external_id for _, touch in touches}),
            )
        missing = sorted({t.lead_external_id for _, t in touches} - set(known))
        leads, _ = lead_records(api.leads(missing), rejected) if missing else ([], {})
        orphans = work.store(
            "tasks",
            leads,
            [touch for _, touch in touches],
            rejected,
            position=page.last_modified,
            count=len(page.records),
        )
        if orphans:
            by_touch = {id(touch): task for task, touch in touches}
            lost = [
                (
                    _plain(by_touch[id(touch)]),
                    f"task on lead {touch.lead_external_id}: Salesforce "
                    "did not return that lead (deleted, or not visible to the API user)",
                )
                for touch in orphans
            ]
            with work.engine.begin() as connection:
                ingest_log.reject_events(connection, lost, source_system="salesforce", at=work.now)
            work.report.rejected += [reason for _, reason in lost]
        if work.over():
            return


def _plain(record: dict) -> dict:
    return {key: value for key, value in record.items() if key != "attributes"}


# -- one pass ------------------------------------------------------------------------------
def hubspot_api(settings: Settings) -> HubSpotApi:
    return HubSpotApi(settings.secret(settings.hubspot_access_token), settings.hubspot_api_url)


def salesforce_api(settings: Settings) -> SalesforceApi:
    return SalesforceApi(credentials(settings), version=settings.salesforce_api_version)


def crm_writer(engine: Engine, settings: Settings) -> CrmWriter | None:
    """The write-back of Slack's actions, to each configured CRM (None: none is)."""
    if not settings.crms:
        return None
    apis: dict[str, object] = {
        name: hubspot_api(settings) if name == "hubspot" else salesforce_api(settings)
        for name in settings.crms
    }

    def mapping(name: str) -> CrmMapping:
        _, agreement = ingest_context(engine)
        return mapping_for(agreement, name)

    return CrmWriter(apis, mapping)


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
    for name in (crm,) if crm else settings.crms:
        now = datetime.now(UTC)
        work = Pass(
            engine,
            SyncReport(name),
            now,
            progress(name) if progress else None,
            stopping,
            deadline,
        )
        try:
            if name == "hubspot":
                sync_hubspot(hubspot_api(settings), work, since, read_in_process=read_in_process)
            else:
                sync_salesforce(salesforce_api(settings), work, since)
        except CrmError as error:
            work.report.error = str(error)
            log.warning("%s sync: %s; the next pass resumes from the cursor", name, error)
        _log_run(engine, work.report, now)
        reports.append(work.report)
    return reports


def _log_run(engine: Engine, report: SyncReport, at: datetime) -> None:
    owners: Counter[str] = Counter()
    for (what, value), count in report.unmatched.items():
        if what == "owner":
            owners[value] += count
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
            unmapped={"owner": dict(owners)} if owners else {},
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
