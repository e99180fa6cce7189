"""A CRM's API records → lead records (pure: no I/O).

An API record is read as a row of the CRM's export whose header is the API's field names (the
export mappings know them), so a lead synced live and the same lead imported from a file are
one record, with the same owner, status and date rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.domain.leads import LeadRecord, RowError, fingerprint
from bot.intake.exports import CrmMapping, ExportContext, mapping_key, resolve_columns


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
        self, mapping: CrmMapping, fields: Sequence[str], *, now: datetime, what: str
    ) -> None:
        # of the agreement's column labels only a Salesforce `MQL Date` field applies (export
        # labels are not API names)
        columns = {k: v for k, v in mapping.columns.items() if k == "MQL Date"}
        mapping = dataclasses.replace(mapping, columns=columns, date_order=None)
        self.fields = list(fields)
        self.what = what  # a record's name in a rejection: "contact 123: …"
        self.context = ExportContext(
            mapping, resolve_columns(self.fields, mapping), self.fields, UTC, now
        )
        self.prefix = f"api\x1e{mapping_key(mapping, *self.fields)}\x1e"

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
