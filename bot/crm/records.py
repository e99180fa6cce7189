"""CRM API records → lead and touch records (pure: no I/O).

An API record is read as a row of the CRM's export whose header is the API's field names (the
export mappings know them), so a lead synced live and the same lead imported from a file are
one record, with the same owner, status and date rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.crm.salesforce_api import LEAD_FIELDS, LEAD_PREFIX, parse_time
from bot.domain import crm_exports as crm
from bot.domain.ingest import LeadRecord, RowError, TouchRecord, fingerprint
from bot.domain.owners import salesforce_id18

OWNER_EMAIL = "Owner.Email"  # filled from the users list: SOQL would need a join per record
TASK_KINDS = {"call": "call", "email": "email", "listemail": "email", "meeting": "meeting"}


@dataclass(frozen=True)
class ApiReader:
    """Reads one CRM's API records as rows of its export whose header is the API's fields."""

    map: Callable[[Sequence[str]], LeadRecord]
    prefix: str  # the mapping's fingerprint
    external_id: Callable[[Sequence[str]], str]  # a record's id as its lead stores it

    def fingerprint(self, cells: Sequence[str]) -> str:
        """Of a record's cells under this mapping: the same again is stored already."""
        return fingerprint(self.prefix + "\x1f".join(cells))


def reader(mapping: crm.CrmMapping, fields: Sequence[str], *, now: datetime) -> ApiReader:
    """Maps the cells of records carrying `fields` to lead records. Of the agreement's column
    labels only a Salesforce `MQL Date` field applies (export labels are not API names)."""
    columns = {k: v for k, v in mapping.columns.items() if k == "MQL Date"}
    mapping = dataclasses.replace(mapping, columns=columns, date_order=None)
    header = list(fields)
    context = crm.ExportContext(mapping, crm.resolve_columns(header, mapping), header, UTC, now)
    crm_format = mapping.format
    at = context.columns[crm_format.id_field]
    return ApiReader(
        lambda cells: crm_format.map_row(cells, context),
        f"api\x1e{crm.mapping_key(mapping, *header)}\x1e",
        lambda cells: crm_format.normalise_id(cells[at]),
    )


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
    """A completed Task on a lead → the touch it records (None: not about a lead)."""
    who = str(task.get("WhoId") or "")
    if not who.startswith(LEAD_PREFIX):
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
