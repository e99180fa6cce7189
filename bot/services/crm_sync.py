"""Live CRM sync: what changed in HubSpot or Salesforce since the stored cursor, stored a page
at a time, each page and its cursor in one transaction.

A pass reads pages oldest change first and stores each with the cursor moved to the page's
last modification time; a pass that dies re-reads from the cursor, and storing is idempotent
(an unchanged record is a no-op, a touch is kept once), so nothing is skipped and nothing is
stored twice. The next page is fetched while the current one is stored.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.engine import Engine

from bot.crm import CrmError, records
from bot.crm.hubspot_api import CONTACT_PROPERTIES, HubSpotApi, changed_contact_cells
from bot.crm.hubspot_api import parse_time as hubspot_time
from bot.crm.reader_process import read_elsewhere
from bot.crm.salesforce_api import TASK_FIELDS, SalesforceApi, credentials
from bot.crm.write_back import CrmWriter
from bot.domain.crm_exports import CrmMapping
from bot.domain.ingest import LeadRecord, RowError, TouchRecord
from bot.services.crm_mapping import fix_line, ingest_context, mapping_for
from bot.services.webhooks import SYNCED
from bot.settings import Settings
from storage import ingest_log, people
from storage import sync as cursors
from storage.db import begin_writing
from storage.ingest import LeadCounts, lead_ids, record_touches, upsert_leads

log = logging.getLogger(__name__)
CRMS = ("hubspot", "salesforce")
T = TypeVar("T")
R = TypeVar("R")
Known = dict[str, tuple[int, str | None, datetime | None]]  # external id → stored (lead_ids)
MODIFIED = CONTACT_PROPERTIES.index("lastmodifieddate")
STORE_EVERY = 1000  # records stored (and the cursor moved) in one transaction
Progress = Callable[[int, int], None]  # (records read so far, records the CRM matched)


@dataclass
class SyncReport:
    """One pass over one CRM."""

    crm: str
    read: int = 0
    leads: LeadCounts = field(default_factory=LeadCounts)
    touches: int = 0
    rejected: list[str] = field(default_factory=list)
    unmatched: Counter[tuple[str, str]] = field(default_factory=Counter)  # (what, value)
    position: datetime | None = None  # the cursor after the pass
    error: str | None = None  # the pass ended early: the next one resumes from the cursor
    cut_short: bool = False  # stopped (a stopping clock, the pass's time budget)

    def fixes(self) -> list[str]:
        return [
            f"{what} {value!r} ({count} record{'s' if count != 1 else ''}) matches nothing: "
            f"{fix_line(self.crm, what, value)}"
            for (what, value), count in self.unmatched.most_common(20)
        ]


@dataclass
class _Pass:
    engine: Engine
    report: SyncReport
    now: datetime
    progress: Progress | None
    stopping: threading.Event | None
    deadline: float | None

    def over(self) -> bool:
        if (self.stopping is not None and self.stopping.is_set()) or (
            self.deadline is not None and time.monotonic() >= self.deadline
        ):
            self.report.cut_short = True
            return True
        return False

    def read(self, count: int, total: int) -> None:
        self.report.read += count
        if self.progress is not None:
            self.progress(self.report.read, total)

    def changed_leads(
        self,
        found: Sequence[list[str]],
        reader: records.ApiReader,
        rejected: list[tuple[object, str]],
        *,
        what: str,
        fields: Sequence[str],
    ) -> tuple[list[tuple[list[str], LeadRecord]], Known]:
        """The records of `found` (each record's cells, in the order of `fields`) that changed
        since they were stored, as (cells, lead) (the rest are counted unchanged, not read
        again; a record that cannot be read joins `rejected`, named as `what` and its id), and
        what is stored of them (for the upsert)."""
        ids = [reader.external_id(cells) for cells in found]
        with self.engine.connect() as connection:
            known = lead_ids(connection, source_system=self.report.crm, external_ids=ids)
        leads = []
        for cells, external_id in zip(found, ids, strict=True):
            digest = reader.fingerprint(cells)
            stored = known.get(external_id)
            if stored is not None and stored[1] == digest:
                self.report.leads.unchanged += 1
                continue
            try:
                lead = reader.map(cells)
            except RowError as error:
                record = dict(zip(fields, cells, strict=True))
                rejected.append((record, f"{what} {external_id}: {error}"))
                continue
            lead.fingerprint = digest
            self.report.unmatched.update(lead.unmapped)
            leads.append((cells, lead))
        return leads, known

    def store(
        self,
        stream: str,
        leads: Sequence[LeadRecord],
        touches: Sequence[TouchRecord],
        rejected: list[tuple[object, str]],
        *,
        position: datetime,
        count: int,
        known: Known | None = None,
    ) -> list[TouchRecord]:
        """Store a page and move the cursor, in one transaction; the touches whose lead is
        not stored are returned (kept as rejected events by the caller)."""
        crm, report = self.report.crm, self.report
        with self.engine.begin() as connection:
            begin_writing(connection)
            if leads:
                report.leads.add(
                    upsert_leads(connection, leads, source_system=crm, origin="sync", known=known)
                )
                report.touches += sum(len(lead.touches) for lead in leads)  # kept once each
            unknown: list[int] = []
            if touches:
                recorded, unknown = record_touches(connection, touches, source_system=crm)
                report.touches += recorded
            ingest_log.reject_events(connection, rejected, source_system=crm, at=self.now)
            cursors.advance(connection, crm, stream, position=position, records=count, at=self.now)
        report.rejected += [reason for _, reason in rejected]
        report.position = position
        return [touches[index] for index in unknown]


def prefetched(pages: Iterable[T]) -> Iterator[T]:
    """`pages`, each fetched on a helper thread while the caller stores the one before."""
    ready: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=1)
    done = threading.Event()

    def fetch() -> None:
        try:
            for page in pages:
                while not done.is_set():
                    try:
                        ready.put(("page", page), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if done.is_set():
                    return
            ready.put(("end", None))
        except BaseException as error:  # handed to the caller's thread
            ready.put(("error", error))

    threading.Thread(target=fetch, name="slabot-sync-fetch", daemon=True).start()
    try:
        while True:
            kind, value = ready.get()
            if kind == "end":
                return
            if kind == "error":
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        done.set()


def gathered(
    pages: Iterable[T], items: Callable[[T], list[R]], size: int = STORE_EVERY
) -> Iterator[tuple[list[R], int, datetime]]:
    """Consecutive pages joined until `size` records (one transaction stores them, with the
    cursor at the last one's modification time): (records, matched in all, last modified)."""
    batch: list[R] = []
    total, last = 0, None
    for page in pages:
        found = items(page)
        if not found or page.last_modified is None:  # type: ignore[attr-defined]
            break
        batch += found
        total, last = page.total, page.last_modified  # type: ignore[attr-defined]
        if len(batch) >= size:
            yield batch, total, last
            batch = []
    if batch and last is not None:
        yield batch, total, last


# -- HubSpot -------------------------------------------------------------------------------
def _mapping(work: _Pass, crm_owners: dict[str, str]) -> CrmMapping:
    """How this pass's CRM maps, with the owners its API lists and the people Slack knows."""
    _, agreement = ingest_context(work.engine)
    with work.engine.connect() as connection:
        slack_names = people.real_names(connection)
    return mapping_for(agreement, work.report.crm, slack_names=slack_names, crm_owners=crm_owners)


def sync_hubspot(
    api: HubSpotApi, work: _Pass, since: datetime | None, *, read_in_process: bool = False
) -> None:
    mapping = _mapping(work, api.owners())
    with work.engine.connect() as connection:
        start = since or cursors.cursor(connection, "hubspot", "contacts")
    reader = records.reader(mapping, CONTACT_PROPERTIES, now=work.now)
    pages = (
        read_elsewhere(changed_contact_cells, api.token, api.base_url, start)
        if read_in_process
        else prefetched(api.changed_contact_cells(start))
    )
    for found, total, last in gathered(pages, lambda page: page.cells):
        work.read(len(found), total)
        rejected: list[tuple[object, str]] = []
        changed, known = work.changed_leads(
            found, reader, rejected, what="contact", fields=CONTACT_PROPERTIES
        )
        for cells, lead in changed:  # an older webhook event never overwrites this snapshot
            if (modified := hubspot_time(cells[MODIFIED])) is not None:
                lead.values["crm_times"] = {SYNCED: int(modified.timestamp() * 1000)}
        leads = [lead for _, lead in changed]
        work.store("contacts", leads, (), rejected, position=last, count=len(found), known=known)
        if work.over():
            return


# -- Salesforce ----------------------------------------------------------------------------
def sync_salesforce(api: SalesforceApi, work: _Pass, since: datetime | None) -> None:
    """Leads first, then completed Tasks on leads (calls, emails, meetings → touches)."""
    users = api.users()
    mapping = _mapping(work, users)
    with work.engine.connect() as connection:
        lead_start = since or cursors.cursor(connection, "salesforce", "leads")
        task_start = since or cursors.cursor(connection, "salesforce", "tasks")
    fields = records.salesforce_fields(mapping)
    reader = records.reader(mapping, records.salesforce_header(fields), now=work.now)

    header = records.salesforce_header(fields)

    def lead_records(
        found: Iterable[dict], rejected: list[tuple[object, str]]
    ) -> tuple[list[LeadRecord], Known]:
        cells = [records.salesforce_cells(lead, fields, users) for lead in found]
        changed, known = work.changed_leads(cells, reader, rejected, what="lead", fields=header)
        return [lead for _, lead in changed], known

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
        for task in page.records:
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
        work = _Pass(
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
