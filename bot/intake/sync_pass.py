"""One sync pass's bookkeeping, for every CRM's pass: what it read and stored (`SyncReport`),
when it must stop, pages gathered into one transaction each, a changed record told from an
unchanged one, and a page stored with its cursor (pages are fetched ahead by
`reader_process`)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy.engine import Engine

from bot.domain.leads import LeadRecord, TouchRecord
from bot.intake.api_reader import Read, Unreadable
from bot.intake.exports import CrmFormat, CrmMapping, fix_line, newer_kept
from storage import ingest_log
from storage import sync as cursors
from storage.db import begin_writing
from storage.ingest import Known, LeadCounts, crm_times, lead_ids, record_touches, upsert_leads

T = TypeVar("T")
R = TypeVar("R")
STORE_EVERY = 1000  # records stored (and the cursor moved) in one transaction
Progress = Callable[[int, int], None]  # (records read so far, records the CRM matched)


@dataclass
class SyncReport:
    """One pass over one CRM."""

    export: CrmFormat  # the CRM's format: its name, and how the agreement maps its values
    read: int = 0
    leads: LeadCounts = field(default_factory=LeadCounts)
    touches: int = 0
    rejected: list[str] = field(default_factory=list)
    unmatched: Counter[tuple[str, str]] = field(default_factory=Counter)  # (what, value)
    position: datetime | None = None  # the cursor after the pass
    error: str | None = None  # the pass ended early: the next one resumes from the cursor
    cut_short: bool = False  # stopped (a stopping clock, the pass's time budget)

    @property
    def crm(self) -> str:
        return self.export.name

    def fixes(self) -> list[str]:
        return [
            f"{what} {value!r} ({count} record{'s' if count != 1 else ''}) matches nothing: "
            f"{fix_line(self.export, what, value)}"
            for (what, value), count in self.unmatched.most_common(20)
        ]


@dataclass
class Pass:
    engine: Engine
    report: SyncReport
    now: datetime
    mapper: Callable[[dict[str, str]], CrmMapping]  # the CRM's owner list → how it maps
    progress: Progress | None
    stopping: threading.Event | None
    deadline: float | None
    property_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def mapping(self, crm_owners: dict[str, str]) -> CrmMapping:
        """How the CRM maps this pass (the owners its API lists)."""
        mapping = self.mapper(crm_owners)
        self.property_fields = mapping.property_fields()
        return mapping

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
        self, found: Sequence[Read], rejected: list[tuple[object, str]]
    ) -> tuple[list[LeadRecord], Known]:
        """The leads of `found` that changed since they were stored (the rest are counted
        unchanged; a record that could not be read joins `rejected`), and what is stored of
        them (for the upsert)."""
        read = [each for each in found if isinstance(each, LeadRecord)]
        with self.engine.connect() as connection:
            known = lead_ids(
                connection,
                source_system=self.report.crm,
                external_ids=[lead.external_id for lead in read],
            )
            # a snapshot (HubSpot's) keeps out of what a newer webhook event stored
            stored_times = crm_times(
                connection,
                source_system=self.report.crm,
                external_ids=[lead.external_id for lead in read if lead.external_id in known
                              and "crm_times" in lead.values],
            )  # fmt: skip
        unreadable = [each for each in found if isinstance(each, Unreadable)]
        rejected += [(each.record, each.reason) for each in unreadable]
        leads = []
        for each in read:
            stored = known.get(each.external_id)
            lead = newer_kept(each, stored_times.get(each.external_id) or {}, self.property_fields)
            if lead is None or (stored is not None and stored[1] == lead.fingerprint):
                self.report.leads.unchanged += 1
                continue
            self.report.unmatched.update(lead.unmapped)
            leads.append(lead)
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
