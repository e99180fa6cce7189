"""A Salesforce sync pass: the leads changed since the cursor, then the completed Tasks on leads
(calls, emails, meetings → touches), each lead read as a row of a Data Loader extract whose
header is the API's field names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from bot.domain.leads import LeadRecord, RowError, TouchRecord
from bot.intake.api_reader import ApiReader
from bot.intake.exports import CrmMapping
from bot.intake.reader_process import prefetched
from bot.intake.salesforce.api import (
    LEAD_FIELDS,
    LEAD_PREFIX,
    TASK_FIELDS,
    SalesforceApi,
    parse_time,
)
from bot.intake.salesforce.ids import salesforce_id18
from bot.intake.sync_pass import Pass, gathered
from bot.intake.write_back import written_by_slabot
from storage import ingest_log, outbox
from storage import sync as cursors
from storage.ingest import Known, lead_ids

OWNER_EMAIL = "Owner.Email"  # filled from the users list: SOQL would need a join per record
TASK_KINDS = {"call": "call", "email": "email", "listemail": "email", "meeting": "meeting"}


def salesforce_fields(mapping: CrmMapping) -> tuple[str, ...]:
    """Lead fields to select: the standard ones, a configured MQL date field and the
    agreement's segment field."""
    extra = (mapping.columns.get("MQL Date"), mapping.segment_field)
    return LEAD_FIELDS + tuple(name for name in extra if name and name not in LEAD_FIELDS)


def salesforce_cells(
    lead: Mapping[str, object], fields: Sequence[str], users: Mapping[str, str]
) -> list[str]:
    cells = ["" if lead.get(name) is None else str(lead.get(name)) for name in fields]
    owner = salesforce_id18(str(lead.get("OwnerId") or ""))
    return [*cells, users.get(owner, "")]


def salesforce_header(fields: Sequence[str]) -> tuple[str, ...]:
    return (*fields, OWNER_EMAIL)


def task_touch(task: Mapping[str, object], users: Mapping[str, str]) -> TouchRecord | None:
    """A completed Task on a lead → the touch it records (None: not about a lead, or slabot's
    own write-back of a Contacted press, whose touch slabot recorded at the press)."""
    who = str(task.get("WhoId") or "")
    if not who.startswith(LEAD_PREFIX) or written_by_slabot(str(task.get("Description") or "")):
        return None
    at = parse_time(str(task.get("CompletedDateTime") or "")) or parse_time(
        str(task.get("CreatedDate") or "")
    )
    if at is None:
        raise RowError("CreatedDate", "a task needs the time it was done")
    kind_of = str(task.get("TaskSubtype") or task.get("Type") or "").replace(" ", "").lower()
    owner = salesforce_id18(str(task.get("OwnerId") or ""))
    return TouchRecord(
        salesforce_id18(who), at, TASK_KINDS.get(kind_of, "other"), users.get(owner, "")
    )


def sync_leads(
    api: SalesforceApi, work: Pass, since: datetime | None, read_in_process: bool
) -> None:
    """Leads first, then completed Tasks on leads (calls, emails, meetings → touches)."""
    users = api.users()
    mapping = work.mapping(users)
    with work.engine.connect() as connection:
        lead_start = since or cursors.cursor(connection, "salesforce", "leads")
        task_start = since or cursors.cursor(connection, "salesforce", "tasks")
    fields = salesforce_fields(mapping)
    reader = ApiReader(mapping, salesforce_header(fields), now=work.now, what="lead")

    def lead_records(
        found: Iterable[dict], rejected: list[tuple[object, str]]
    ) -> tuple[list[LeadRecord], Known]:
        read = [reader.read(salesforce_cells(lead, fields, users)) for lead in found]
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
                touch = task_touch(task, users)
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
        leads, _ = lead_records(api.leads(missing, fields), rejected) if missing else ([], {})
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
