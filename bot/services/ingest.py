"""Load leads and touches: CSV files (streamed, whole or not at all) and webhook payloads."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, Engine

from bot.domain import ingest as rows
from bot.domain.agreement import Agreement, CrmSection
from bot.services.agreements import agreement_in_force
from storage.ingest import (
    LeadCounts,
    bulk_load_pays,
    has_leads,
    indexes_rebuilt_after,
    lead_ids,
    record_touches,
    upsert_leads,
)

BATCH = 5000
FORMATS = ("auto", "native", "touches", "hubspot", "salesforce")
MAX_REJECTS_SHOWN = 50


class ImportRefused(ValueError):
    """The file as a whole cannot be imported (unknown format, bad header)."""


@dataclass(frozen=True)
class Rejected:
    line: int
    column: str
    reason: str


@dataclass
class ImportSummary:
    format: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    touches: int = 0
    skipped: int = 0  # blank lines and report footers
    rejected: int = 0
    examples: list[Rejected] = field(default_factory=list)  # the first MAX_REJECTS_SHOWN
    rejects_path: Path | None = None
    aborted: bool = False  # --strict and something was rejected: nothing was written

    def add(self, counts: LeadCounts) -> None:
        self.inserted += counts.inserted
        self.updated += counts.updated
        self.unchanged += counts.unchanged


def mapping_for(agreement: Agreement | None, crm: str) -> rows.CrmMapping:
    section: CrmSection = getattr(agreement.crm, crm) if agreement else CrmSection()
    return rows.CrmMapping(
        columns=section.columns,
        stages=section.stages,
        sources=section.sources,
        owners=section.owners,
        record_url=section.record_url,
    )


def ingest_context(engine: Engine, today: date | None = None) -> tuple[tzinfo, Agreement | None]:
    """The timezone for naive timestamps (the agreement's calendar) and the agreement."""
    agreement = agreement_in_force(engine, on=today or datetime.now(UTC).date())
    return (ZoneInfo(agreement.calendar.timezone) if agreement else UTC), agreement


class _Rejects:
    """Collects rejected rows: a rejects CSV beside the input, plus the first few for display."""

    def __init__(self, summary: ImportSummary, header: list[str], path: Path | None) -> None:
        self.summary, self.header, self.path = summary, header, path
        self._file: TextIO | None = None
        self._writer: Any = None

    def add(self, line: int, cells: list[str], column: str, reason: str) -> None:
        self.summary.rejected += 1
        if len(self.summary.examples) < MAX_REJECTS_SHOWN:
            self.summary.examples.append(Rejected(line, column, reason))
        if self.path is None:
            return
        if self._writer is None:
            self._file = self.path.open("w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._file)
            self._writer.writerow([*self.header, "_line", "_column", "_reason"])
            self.summary.rejects_path = self.path
        padded = cells + [""] * (len(self.header) - len(cells))
        self._writer.writerow([*padded, line, column, reason])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _id_label(fmt: str, hubspot: rows.CrmMapping, salesforce: rows.CrmMapping) -> str:
    """The column that holds each row's external id."""
    if fmt == "hubspot":
        return hubspot.label("Record ID")
    if fmt == "salesforce":
        return salesforce.label("Lead ID")
    return "lead_id"


@dataclass
class _Reading:
    """How the rows of one file are read."""

    fmt: str
    header: list[str]
    mapper: Callable[[dict[str, str]], Any]
    source_system: str
    id_column: int  # where the external id is
    compare: bool = False  # leads of this CRM are stored: skip rows imported unchanged before


class _Abort(Exception):
    """Raised inside the transaction so that --strict rolls everything back."""


def _records(reader: Any, summary: ImportSummary, fmt: str) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, cells), skipping blank lines and report footers."""
    previous_end = reader.line_num
    for cells in reader:
        line, previous_end = previous_end + 1, reader.line_num
        if not any(cell.strip() for cell in cells) or (
            fmt == "salesforce" and rows.is_report_footer(cells)
        ):
            summary.skipped += 1
            continue
        yield line, cells


def import_csv(
    engine: Engine,
    path: Path,
    *,
    fmt: str = "auto",
    strict: bool = False,
    rejects_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Stream a CSV into the database in batches, inside one transaction.

    Rows that cannot be used are reported with their line, column and reason (and written to
    `rejects_path`); with `strict`, any rejected row rolls the whole import back.
    """
    tz, agreement = ingest_context(engine)
    hubspot, salesforce = mapping_for(agreement, "hubspot"), mapping_for(agreement, "salesforce")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            raise ImportRefused(f"{path} is empty") from None
        detected = rows.detect_format(header, hubspot, salesforce)
        if fmt == "auto":
            if detected is None:
                raise ImportRefused(
                    f"cannot tell the format of {path} from its header; give --format "
                    "(native needs a lead_id column, HubSpot 'Record ID', Salesforce 'Lead ID')"
                )
            fmt = detected
        _check_header(header, fmt, hubspot, salesforce)
        summary = ImportSummary(format=fmt)
        rejects = _Rejects(summary, header, rejects_path)
        reading = _Reading(
            fmt=fmt,
            header=header,
            mapper=_mapper(fmt, tz, hubspot, salesforce),
            source_system={"hubspot": "hubspot", "salesforce": "salesforce"}.get(fmt, "native"),
            id_column=header.index(_id_label(fmt, hubspot, salesforce)),
        )
        try:
            with engine.begin() as connection, ExitStack() as bulk:
                if fmt != "touches":
                    reading.compare = has_leads(connection, reading.source_system)
                    if bulk_load_pays(connection, estimated_rows(path)):
                        bulk.enter_context(indexes_rebuilt_after(connection, "lead"))
                batch: list[tuple[int, list[str]]] = []
                for line, cells in _records(reader, summary, fmt):
                    summary.rows += 1
                    batch.append((line, cells))
                    if len(batch) >= BATCH:
                        _write(connection, batch, reading, summary, rejects)
                        batch = []
                        if progress:
                            progress(handle.buffer.tell())
                _write(connection, batch, reading, summary, rejects)
                if strict and summary.rejected:
                    raise _Abort
        except _Abort:
            summary.aborted = True
            summary.inserted = summary.updated = summary.unchanged = summary.touches = 0
        finally:
            rejects.close()
        if progress:
            progress(path.stat().st_size)
    return summary


def estimated_rows(path: Path) -> int:
    """The file's size over the mean line length of its first 64 KiB."""
    with path.open("rb") as handle:
        sample = handle.read(1 << 16)
    lines = sample.count(b"\n")
    return path.stat().st_size * lines // len(sample) if lines else 1


def _check_header(
    header: list[str], fmt: str, hubspot: rows.CrmMapping, salesforce: rows.CrmMapping
) -> None:
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ImportRefused(f"the header repeats {', '.join(duplicates)}")
    needed = [_id_label(fmt, hubspot, salesforce)] + (["touched_at"] if fmt == "touches" else [])
    missing = [name for name in needed if name not in header]
    if missing:
        raise ImportRefused(f"a {fmt} file needs the column(s) {', '.join(missing)}")


def _mapper(
    fmt: str, tz: tzinfo, hubspot: rows.CrmMapping, salesforce: rows.CrmMapping
) -> Callable[[dict[str, str]], Any]:
    if fmt == "native":
        return lambda row: rows.native_lead(row, tz)
    if fmt == "touches":
        return lambda row: rows.native_touch(row, tz)
    if fmt == "hubspot":
        return lambda row: rows.hubspot_lead(row, tz, hubspot)
    return lambda row: rows.salesforce_lead(row, tz, salesforce)


def _write(
    connection: Connection,
    batch: list[tuple[int, list[str]]],
    reading: _Reading,
    summary: ImportSummary,
    rejects: _Rejects,
) -> None:
    """Map a batch of rows and store them. A lead row whose fingerprint matches the one stored
    for its id was imported unchanged before: it is counted without being read again."""
    if not batch:
        return
    fmt = reading.fmt
    # the mappers take the id cell as it is (stripped), so this look-up also serves the upsert
    found = (
        lead_ids(
            connection,
            source_system=reading.source_system,
            external_ids=[
                cells[reading.id_column].strip()
                for _, cells in batch
                if len(cells) > reading.id_column
            ],
        )
        if reading.compare
        else None
    )
    stored = {external_id: row_hash for external_id, (_, row_hash, _) in (found or {}).items()}
    mapped: list[tuple[int, list[str], Any]] = []
    width = len(reading.header)
    for line, cells in batch:
        if len(cells) != width:
            rejects.add(line, cells, "", f"has {len(cells)} cells; the header has {width}")
            continue
        fingerprint = (
            None if fmt == "touches" else rows.fingerprint(f"{fmt}\x1e" + "\x1f".join(cells))
        )
        if fingerprint and stored.get(cells[reading.id_column].strip()) == fingerprint:
            summary.unchanged += 1
            continue
        try:
            record = reading.mapper(dict(zip(reading.header, cells, strict=True)))
        except rows.RowError as error:
            rejects.add(line, cells, error.column, error.reason)
            continue
        if fingerprint:
            record.fingerprint = fingerprint
        mapped.append((line, cells, record))
    if fmt == "touches":
        recorded, unknown = record_touches(
            connection, [item[2] for item in mapped], source_system="native"
        )
        summary.touches += recorded
        for index in unknown:
            line, cells, touch = mapped[index]
            rejects.add(
                line,
                cells,
                "lead_id",
                f"no lead {touch.lead_external_id!r} (import the leads first)",
            )
        return
    summary.add(
        upsert_leads(
            connection,
            [item[2] for item in mapped],
            source_system=reading.source_system,
            origin="import",
            known=found,
        )
    )
