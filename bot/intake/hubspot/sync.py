"""A HubSpot sync pass: the contacts changed since the cursor, oldest change first, each page
read as rows of the contacts export whose header is the API's property names."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from bot.intake.api_reader import ApiReader, ReadPage
from bot.intake.errors import CrmError
from bot.intake.exports import CrmMapping
from bot.intake.hubspot.api import CONTACT_PROPERTIES, CellPage, HubSpotApi
from bot.intake.reader_process import ReaderEnded, prefetched, read_elsewhere
from bot.intake.sync_pass import Pass, gathered
from storage import sync as cursors


def contact_pages(reader: ApiReader, pages: Iterable[CellPage]) -> Iterator[ReadPage]:
    """HubSpot's pages of contacts, read (a contact's modification time goes with it, as
    `crm_times`, so an older webhook event never overwrites this snapshot, nor it a newer one)."""
    for page in pages:
        yield ReadPage([reader.read(cells) for cells in page.cells], page.total, page.last_modified)


def contact_properties(mapping: CrmMapping) -> tuple[str, ...]:
    """The contact properties to read: the standard ones and the agreement's segment field."""
    extra = mapping.segment_field
    return CONTACT_PROPERTIES + ((extra,) if extra and extra not in CONTACT_PROPERTIES else ())


def changed_contacts(
    token: str, base_url: str, since: datetime | None, mapping: CrmMapping, now: datetime
) -> Iterator[ReadPage]:
    """Contacts changed since `since`, fetched and read: all a reader process does."""
    properties = contact_properties(mapping)
    read = ApiReader(mapping, properties, now=now, what="contact")
    api = HubSpotApi(token, base_url)
    # the next page is fetched while this one is read: HubSpot serves it meanwhile
    return contact_pages(read, prefetched(api.changed_contact_cells(since, properties)))


def sync_contacts(
    api: HubSpotApi, work: Pass, since: datetime | None, read_in_process: bool
) -> None:
    """Contacts changed since the cursor (or `since`), read in a process of their own with
    `read_in_process` (a backfill), else on this one while the next page is fetched."""
    mapping = work.mapping(api.owners())
    with work.engine.connect() as connection:
        start = since or cursors.cursor(connection, "hubspot", "contacts")
    args = (api.token, api.base_url, start, mapping, work.now)
    pages = (
        read_elsewhere(changed_contacts, *args)
        if read_in_process
        else changed_contacts(*args)  # fetched on a thread, read on this one
    )
    try:
        for found, total, last in gathered(pages, lambda page: page.records):
            work.read(len(found), total)
            rejected: list[tuple[object, str]] = []
            leads, known = work.changed_leads(found, rejected)
            work.store(
                "contacts", leads, (), rejected, position=last, count=len(found), known=known
            )
            if work.over():
                return
    except ReaderEnded as error:
        raise CrmError(f"{error}; the next pass resumes from the cursor", transient=True) from None
