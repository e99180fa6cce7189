"""CRM API records → lead and touch records (pure, but for `changed_contacts`: a reader
process's whole job, fetching and reading).

An API record is read as a row of the CRM's export whose header is the API's field names (the
export mappings know them), so a lead synced live and the same lead imported from a file are
one record, with the same owner, status and date rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.crm.hubspot_api import CONTACT_PROPERTIES, CellPage, HubSpotApi
from bot.crm.reader_process import prefetched
from bot.crm.salesforce_api import LEAD_FIELDS, LEAD_PREFIX, parse_time
from bot.crm.write_back import written_by_slabot
from bot.domain import crm_exports as crm
from bot.domain.ingest import LeadRecord, RowError, TouchRecord, fingerprint
from bot.domain.owners import salesforce_id18

OWNER_EMAIL = "Owner.Email"  # filled from the users list: SOQL would need a join per record
TASK_KINDS = {"call": "call", "email": "email", "listemail": "email", "meeting": "meeting"}


@dataclass(frozen=True)
class Unreadable:
    """A record that cannot be read: kept as a rejected event, with the reason."""

    record: dict[str, str]
    reason: str


Read = LeadRecord | Unreadable  # a record read: its lead (with its fingerprint), or why not


@dataclass(frozen=True)
class ReadPage:
    """A page of a CRM's changed records, read."""

    records: list[Read]
    total: int  # how many the CRM matched
    last_modified: datetime | None  # of the page's last record (the cursor to store)


class ApiReader:
    """Reads one CRM's API records as rows of its export whose header is the API's fields:
    each record's cells → its lead, fingerprinted (the same cells under the same mapping are
    stored already). Picklable, so a reader process can read."""

    def __init__(
        self, mapping: crm.CrmMapping, fields: Sequence[str], *, now: datetime, what: str
    ) -> None:
        # of the agreement's column labels only a Salesforce `MQL Date` field applies (export
        # labels are not API names)
        columns = {k: v for k, v in mapping.columns.items() if k == "MQL Date"}
        mapping = dataclasses.replace(mapping, columns=columns, date_order=None)
        self.fields = list(fields)
        self.what = what  # a record's name in a rejection: "contact 123: …"
        self.context = crm.ExportContext(
            mapping, crm.resolve_columns(self.fields, mapping), self.fields, UTC, now
        )
        self.prefix = f"api\x1e{crm.mapping_key(mapping, *self.fields)}\x1e"

    def read(self, cells: Sequence[str]) -> Read:
        crm_format = self.context.mapping.format
        try:
            lead = crm_format.map_row(cells, self.context)
        except RowError as error:
            external_id = crm_format.normalise_id(cells[self.context.columns[crm_format.id_field]])
            record = dict(zip(self.fields, cells, strict=True))
            return Unreadable(record, f"{self.what} {external_id}: {error}")
        lead.fingerprint = fingerprint(self.prefix + "\x1f".join(cells))
        return lead


def contact_pages(reader: ApiReader, pages: Iterable[CellPage]) -> Iterator[ReadPage]:
    """HubSpot's pages of contacts, read (a contact's modification time goes with it, as
    `crm_times`, so an older webhook event never overwrites this snapshot, nor it a newer one)."""
    for page in pages:
        yield ReadPage([reader.read(cells) for cells in page.cells], page.total, page.last_modified)


def changed_contacts(
    token: str, base_url: str, since: datetime | None, mapping: crm.CrmMapping, now: datetime
) -> Iterator[ReadPage]:
    """Contacts changed since `since`, fetched and read: all a reader process does."""
    read = ApiReader(mapping, CONTACT_PROPERTIES, now=now, what="contact")
    # the next page is fetched while this one is read: HubSpot serves it meanwhile
    return contact_pages(read, prefetched(HubSpotApi(token, base_url).changed_contact_cells(since)))


def salesforce_fields(mapping: crm.CrmMapping) -> tuple[str, ...]:
    """Lead fields to select: the standard ones and a configured MQL date field."""
    extra = mapping.columns.get("MQL Date")
    return LEAD_FIELDS + ((extra,) if extra and extra not in LEAD_FIELDS else ())


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
