"""Load leads and touches: CSV files (streamed, whole or not at all) and webhook payloads."""

from __future__ import annotations

import csv
import itertools
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, BinaryIO, TextIO, cast

from sqlalchemy.engine import Connection, Engine

from bot.domain.leads import RowError, fingerprint, undated
from bot.intake import csv_shape, dates
from bot.intake.date_order import DateOrderUnproven, file_date_order
from bot.intake.exports import (
    CrmFormat,
    CrmMapping,
    ExportContext,
    fix_line,
    mapping_key,
    newer_kept,
    resolve_columns,
)
from bot.intake.mapping import ingest_context, mapping_for
from bot.intake.native import NativeLeads, native_touch
from bot.intake.reader_process import ReaderEnded, read_elsewhere
from bot.intake.registry import CONNECTORS, detect_format, handoff_columns
from storage import ingest_log, people
from storage.bulk import bulk_load_pays, indexes_rebuilt_after, keep_statistics
from storage.ingest import (
    Known,
    LeadCounts,
    NewLeadRow,
    crm_times,
    has_leads,
    insert_leads,
    lead_ids,
    max_lead_id,
    new_lead_rows,
    record_stages_above,
    record_touches,
    upsert_leads,
)

BATCH = 5000
FORMATS = ("auto", "native", "touches", *CONNECTORS)
MAX_REJECTS_SHOWN = 50


class ImportRefused(ValueError):
    """The file as a whole cannot be imported (unknown format, bad header, unproven dates)."""


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
    skipped: int = 0  # blank lines and report header/footer lines
    rejected: int = 0
    unowned: int = 0  # leads stored without an owner slabot knows
    undated: int = 0  # leads past "lead" with no hand-off time: no SLA clock can start
    examples: list[Rejected] = field(default_factory=list)  # the first MAX_REJECTS_SHOWN
    rejects_path: Path | None = None
    aborted: bool = False  # --strict and something was rejected: nothing was written
    date_order: str | None = None  # how numeric dates were read
    date_order_from: str = ""  # "the agreement" | "the file's own dates"
    history: bool = False
    shape: csv_shape.CsvShape | None = None  # the encoding and delimiter the file was read with
    unmapped: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    sources: Counter[str] = field(default_factory=Counter)  # leads per source ("": none)

    def outside(self, split: Collection[str]) -> list[tuple[str, int]]:
        """The sources these leads came from that the agreement's MQL split does not name
        (none without a split), most leads first: they count as "other sources"."""
        if not split:
            return []
        return [(source, n) for source, n in self.sources.most_common() if source not in split]

    def add(self, counts: LeadCounts) -> None:
        self.inserted += counts.inserted
        self.updated += counts.updated
        self.unchanged += counts.unchanged

    def handoff_columns(self) -> str:
        return handoff_columns(self.format)

    def fixes(self) -> list[tuple[str, str, int, str]]:
        """(what, value, rows, the agreement line that maps it), most rows first."""
        crm = CONNECTORS[self.format].export if self.format in CONNECTORS else None
        found = []
        for what, values in self.unmapped.items():
            for value, count in values.most_common():
                found.append((what, value, count, fix_line(crm, what, value)))
        return sorted(found, key=lambda item: (-item[2], item[0], item[1]))


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
            # a row with a stray byte is written back as it came (surrogateescape)
            self._file = self.path.open("w", newline="", encoding="utf-8", errors="surrogateescape")
            self._writer = csv.writer(self._file)
            self._writer.writerow([*self.header, "_line", "_column", "_reason"])
            self.summary.rejects_path = self.path
        padded = cells + [""] * (len(self.header) - len(cells))
        self._writer.writerow([*padded, line, column, reason])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


@dataclass
class _Reading:
    """How the rows of one file are read."""

    fmt: str
    header: list[str]
    mapper: Callable[[list[str]], Any]
    source_system: str
    id_column: int  # where the external id is
    normalise_id: Callable[[str], str]
    mapping_key: str  # part of every row's fingerprint: a new mapping re-maps unchanged rows
    crm: CrmFormat | None = None  # None: slabot's own format
    # the lead's fields each CRM property sets (a CRM whose events carry a time per property)
    property_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    history_at: datetime | None = None
    compare: bool = False  # leads of this CRM are stored: skip rows imported unchanged before
    analysed: int = 0  # leads inserted when PostgreSQL last refreshed its statistics
    last_id: int = 0  # the highest lead id before the import: the new leads are above it
    stray_bytes: bool = False  # the file is UTF-8 with a few bytes that are not: rows to check


class _Abort(Exception):
    """Raised inside the transaction so that --strict rolls everything back."""


class _Lines:
    """The file's physical lines as the csv reader takes them, the lines of the record being
    read kept: when a stray quote swallowed the lines after it, they are read again."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.taken: list[str] = []
        self.again: deque[str] = deque()

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.again.popleft() if self.again else next(self.handle)
        self.taken.append(line)
        return line


def _records(
    handle: TextIO, delimiter: str, summary: ImportSummary, fmt: str, width: int, start: int
) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, cells), skipping blank lines and a report's own lines. A
    record that runs over several lines to the wrong width (or past the csv module's field
    limit) is an unterminated quote: its first line alone is the record (rejected for its
    width), and the lines it swallowed are read again. NUL bytes are dropped."""
    lines = _Lines(handle)
    reader = csv.reader(lines, delimiter=delimiter)
    line = start
    while True:
        lines.taken = []
        try:
            cells: list[str] | None = next(reader)
        except StopIteration:
            return
        except csv.Error:
            cells = None
        taken = lines.taken
        if len(taken) > 1 and (cells is None or len(cells) != width):
            lines.again.extendleft(reversed(taken[1:]))
            cells = next(csv.reader(taken[:1], delimiter=delimiter), [])
            reader = csv.reader(lines, delimiter=delimiter)
            taken = taken[:1]
        yield_at, line = line, line + len(taken)
        if cells is None:
            continue
        if any("\x00" in text for text in taken):
            cells = [cell.replace("\x00", "") for cell in cells]
        if not any(cell.strip() for cell in cells) or (
            fmt in CONNECTORS and CONNECTORS[fmt].export.skips_line(cells, width)
        ):
            summary.skipped += 1
            continue
        yield yield_at, cells


def import_csv(
    engine: Engine,
    path: Path,
    *,
    fmt: str = "auto",
    strict: bool = False,
    history: bool = False,
    rejects_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> ImportSummary:
    """Stream a CSV into the database in batches, inside one transaction.

    Rows that cannot be used are reported with their line, column and reason (and written to
    `rejects_path`); with `strict`, any rejected row rolls the whole import back. With
    `history`, SLA levels the leads had already reached are not told (a backfill)."""
    now = now or datetime.now(UTC)
    tz, agreement = ingest_context(engine)
    with engine.connect() as connection:
        slack_names = people.real_names(connection)
    mappings = {
        name: mapping_for(agreement, crm.export, slack_names=slack_names)
        for name, crm in CONNECTORS.items()
    }
    shape = csv_shape.sniff(path)
    with path.open(newline="", encoding=shape.encoding, errors=shape.errors) as handle:
        try:
            header = [name.strip() for name in next(csv.reader(handle, delimiter=shape.delimiter))]
        except StopIteration:
            raise ImportRefused(f"{path} is empty") from None
        detected = detect_format(header, mappings)
        if fmt == "auto":
            if detected is None:
                raise ImportRefused(
                    f"cannot tell the format of {path} from its header: give --format, or "
                    "export with the id column (native: lead_id; HubSpot: Record ID; "
                    "Salesforce: Lead ID in a report, Id in Data Loader or Bulk API files)"
                )
            fmt = detected
        mapping = mappings.get(fmt)
        columns = resolve_columns(header, mapping) if mapping else {}
        _check_header(header, fmt, columns)
        summary = ImportSummary(format=fmt, history=history, shape=shape)
        rejects = _Rejects(summary, header, rejects_path)
        width = len(header)
        elsewhere = _maps_elsewhere(engine, fmt, path)
        # read elsewhere, the first rows here only prove the date order: counted there
        counted = ImportSummary(format=fmt) if elsewhere else summary
        records = _records(handle, shape.delimiter, counted, fmt, width, start=2)
        first = [item for _, item in zip(range(BATCH), records, strict=False)]
        order = mapping.date_order if mapping else None
        if order:
            summary.date_order, summary.date_order_from = order, "the agreement"
        else:
            try:
                order = file_date_order(
                    path.name, fmt, header, columns, first, lambda: _rows_again(path, shape, fmt)
                )
            except DateOrderUnproven as error:
                raise ImportRefused(str(error)) from None
            if order:
                summary.date_order, summary.date_order_from = order, "the file's own dates"
        plan = _Plan(path, shape, fmt, header, columns, mapping, tz, order, now, history)
        reading = _reading(plan)
        try:
            with engine.begin() as connection, ExitStack() as bulk:
                if fmt != "touches":
                    reading.compare = has_leads(connection, reading.source_system)
                    if bulk_load_pays(connection, estimated_rows(path)):
                        bulk.enter_context(indexes_rebuilt_after(connection, "lead"))
                    reading.last_id = max_lead_id(connection)
                if elsewhere:
                    summary = _store_mapped_elsewhere(
                        connection, plan, reading, summary, rejects_path, progress
                    )
                else:
                    batch: list[tuple[int, list[str]]] = []
                    for line, cells in itertools.chain(first, records):
                        summary.rows += 1
                        batch.append((line, cells))
                        if len(batch) >= BATCH:
                            _write(connection, batch, reading, summary, rejects)
                            batch = []
                            if progress:
                                progress(cast(BinaryIO, handle.buffer).tell())
                    _write(connection, batch, reading, summary, rejects)
                if fmt != "touches" and not elsewhere:  # the history, in one statement
                    record_stages_above(connection, reading.last_id, "import")
                if fmt != "touches":
                    # and statistics that know them, for whatever reads the table next
                    keep_statistics(connection, inserted=summary.inserted, last=reading.analysed)
                if strict and summary.rejected:
                    raise _Abort
                _log(connection, summary, path.name, reading.source_system, now)
        except _Abort:
            summary.aborted = True
            summary.inserted = summary.updated = summary.unchanged = summary.touches = 0
        finally:
            rejects.close()
        if progress:
            progress(path.stat().st_size)
    return summary


MAP_ELSEWHERE_FROM = 50_000  # rows: below it, starting a process costs more than it saves


def _maps_elsewhere(engine: Engine, fmt: str, path: Path) -> bool:
    """A large file of leads for a source with none stored yet (a first import, a backfill):
    every row is new, so its rows are read and mapped in a process of their own while this
    one writes them, each on a core. (A later import mostly skips rows it stored unchanged
    before, by fingerprint, and is read here.)"""
    if fmt == "touches" or estimated_rows(path) < MAP_ELSEWHERE_FROM:
        return False
    with engine.connect() as connection:
        return not has_leads(connection, fmt if fmt in CONNECTORS else "native")


def _store_mapped_elsewhere(
    connection: Connection,
    plan: _Plan,
    reading: _Reading,
    summary: ImportSummary,
    rejects_path: Path | None,
    progress: Callable[[int], None] | None,
) -> ImportSummary:
    """Insert the leads `_mapped_leads` maps in a process of its own, each batch with its
    stage history (this process would wait for the next batch meanwhile); returns the
    summary the reader counted, with what was written."""
    counts, counted, source_system = LeadCounts(), summary, reading.source_system
    sqlite = connection.dialect.name == "sqlite"
    try:
        for item in read_elsewhere(_mapped_leads, plan, summary, rejects_path, sqlite):
            if isinstance(item, ImportSummary):
                counted = item
                continue
            rows, read_to = item
            counts.add(insert_leads(connection, rows, source_system=source_system, origin="import"))
            # each batch's history reads the leads above the last id: planned from statistics
            # that know the leads inserted so far
            reading.analysed = keep_statistics(
                connection, inserted=counts.inserted, last=reading.analysed
            )
            if progress:
                progress(read_to)
    except ReaderEnded as error:
        raise ImportRefused(f"{error}: nothing was imported; run the import again") from None
    counted.add(counts)
    return counted


def _mapped_leads(
    plan: _Plan, summary: ImportSummary, rejects_path: Path | None, sqlite: bool
) -> Iterator[tuple[list[NewLeadRow], int] | ImportSummary]:
    """The file's leads, mapped a batch at a time (as `sqlite` or PostgreSQL takes them), each
    batch with how far the file is read; last, `summary` with what the rows showed (rows,
    rejects, owners, sources). Every row is new: nothing is compared with what is stored."""
    reading = _reading(plan)
    rejects = _Rejects(summary, plan.header, rejects_path)
    shape = plan.shape
    with plan.path.open(newline="", encoding=shape.encoding, errors=shape.errors) as handle:
        next(csv.reader(handle, delimiter=shape.delimiter))  # the header
        records = _records(handle, shape.delimiter, summary, plan.fmt, len(plan.header), 2)
        try:
            while batch := list(itertools.islice(records, BATCH)):
                summary.rows += len(batch)
                mapped = _mapped(batch, reading, summary, rejects)
                read_to = cast(BinaryIO, handle.buffer).tell()
                yield new_lead_rows([record for _, _, record in mapped], sqlite=sqlite), read_to
        finally:
            rejects.close()
    yield summary


def _newer_kept(
    connection: Connection,
    mapped: list[tuple[int, list[str], Any]],
    found: Known,
    summary: ImportSummary,
    reading: _Reading,
) -> list[tuple[int, list[str], Any]]:
    """Rows of records already stored, as `exports.newer_kept` leaves them (a CRM whose events
    carry a time per property): a row older than what is stored is counted unchanged."""
    times = crm_times(
        connection,
        source_system=reading.source_system,
        external_ids=[record.external_id for _, _, record in mapped if record.external_id in found],
    )
    kept = []
    for line, cells, record in mapped:
        newer = newer_kept(record, times.get(record.external_id) or {}, reading.property_fields)
        if newer is None:
            summary.unchanged += 1
        else:
            kept.append((line, cells, newer))
    return kept


def _rows_again(path: Path, shape: csv_shape.CsvShape, fmt: str) -> Iterator[tuple[int, list[str]]]:
    """The file's records from its first row again (a second pass for its date order)."""
    with path.open(newline="", encoding=shape.encoding, errors=shape.errors) as again:
        header = next(csv.reader(again, delimiter=shape.delimiter))
        yield from _records(again, shape.delimiter, ImportSummary(format=fmt), fmt, len(header), 2)


@dataclass(frozen=True)
class _Plan:
    """What reading one file needs, as plain values: it pickles for a process of its own."""

    path: Path
    shape: csv_shape.CsvShape
    fmt: str
    header: list[str]
    columns: dict[str, int]
    mapping: CrmMapping | None
    tz: tzinfo
    order: dates.DateOrder | None
    now: datetime
    history: bool


def _reading(plan: _Plan) -> _Reading:
    fmt, header, tz, order = plan.fmt, plan.header, plan.tz, plan.order
    history_at = plan.now if plan.history else None
    stray_bytes = plan.shape.errors == "surrogateescape"
    mapping = plan.mapping
    if mapping is not None:
        ctx = ExportContext(mapping, plan.columns, header, tz, plan.now, order)
        map_row = mapping.format.map_row
        return _Reading(
            fmt=fmt,
            header=header,
            mapper=lambda cells: map_row(cells, ctx),
            source_system=fmt,
            id_column=plan.columns[mapping.format.id_field],
            normalise_id=mapping.format.normalise_id,
            mapping_key=mapping_key(mapping, str(order), str(tz)),
            crm=mapping.format,
            property_fields=mapping.property_fields(),
            history_at=history_at,
            stray_bytes=stray_bytes,
        )
    return _Reading(
        fmt=fmt,
        header=header,
        mapper=(
            NativeLeads(header, tz, order)
            if fmt != "touches"
            else lambda cells: native_touch(dict(zip(header, cells, strict=True)), tz, order)
        ),
        source_system="native",
        id_column=header.index("lead_id"),
        normalise_id=str.strip,
        mapping_key=str(order or ""),
        history_at=history_at,
        stray_bytes=stray_bytes,
    )


def _log(
    connection: Connection, summary: ImportSummary, name: str, source_system: str, now: datetime
) -> None:
    counts = {
        key: getattr(summary, key)
        for key in ("rows", "inserted", "updated", "unchanged", "touches", "skipped", "rejected",
                    "unowned", "undated")
    }  # fmt: skip
    unmapped = {what: dict(values) for what, values in summary.unmapped.items()}
    ingest_log.record_run(
        connection,
        at=now,
        channel="import",
        source_system=source_system,
        name=name,
        counts=counts,
        unmapped=unmapped,
    )


def estimated_rows(path: Path) -> int:
    """The file's size over the mean line length of its first 64 KiB."""
    with path.open("rb") as handle:
        sample = handle.read(1 << 16)
    lines = sample.count(b"\n")
    return path.stat().st_size * lines // len(sample) if lines else 1


def _check_header(header: list[str], fmt: str, columns: dict[str, int]) -> None:
    duplicates = sorted({name for name in header if name and header.count(name) > 1})
    if duplicates:
        raise ImportRefused(f"the header repeats {', '.join(duplicates)}")
    if fmt in CONNECTORS:
        export = CONNECTORS[fmt].export
        id_field = export.id_field
        if id_field not in columns:
            labels = " or ".join(repr(label) for label in export.fields[id_field])
            raise ImportRefused(
                f"a {fmt} file needs its id column ({labels}); if your portal renamed it, map "
                f'it: [crm.{fmt}.columns] "{id_field}" = "Your label"'
            )
        return
    needed = ["lead_id"] + (["touched_at"] if fmt == "touches" else [])
    missing = [name for name in needed if name not in header]
    if missing:
        raise ImportRefused(f"a {fmt} file needs the column(s) {', '.join(missing)}")


def _write(
    connection: Connection,
    batch: list[tuple[int, list[str]]],
    reading: _Reading,
    summary: ImportSummary,
    rejects: _Rejects,
) -> None:
    """Map a batch of rows and store them. A lead row whose fingerprint matches the one stored
    for its id was imported unchanged, under the same mapping: it is counted without being
    read again."""
    if not batch:
        return
    width, column = len(reading.header), reading.id_column
    ids = [reading.normalise_id(cells[column]) if len(cells) == width else "" for _, cells in batch]
    # the mappers store the id cell as normalise_id gives it, so this look-up serves the upsert
    found = (
        lead_ids(connection, source_system=reading.source_system, external_ids=ids)
        if reading.compare
        else None
    )
    stored = [found[key][1] if found and key in found else None for key in ids]
    mapped = _mapped(batch, reading, summary, rejects, stored)
    if reading.crm is not None and reading.property_fields and found:
        # an export's row is a snapshot: the values of newer events stay
        mapped = _newer_kept(connection, mapped, found, summary, reading)
    if reading.fmt == "touches":
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
            known=found if reading.compare else {},  # a source with no leads yet: no look-up
            new_stages=False,
        )
    )
    if reading.compare:  # the next batch looks its ids up: plan that from fresh statistics
        reading.analysed = keep_statistics(
            connection, inserted=summary.inserted, last=reading.analysed
        )


def _mapped(
    batch: list[tuple[int, list[str]]],
    reading: _Reading,
    summary: ImportSummary,
    rejects: _Rejects,
    stored: Sequence[str | None] = (),
) -> list[tuple[int, list[str], Any]]:
    """(line, cells, record) of the batch's rows that read, each counted in `summary`; a row
    that does not read goes to `rejects`. A lead row whose fingerprint is the one `stored`
    for its id (`stored[n]`: the n-th row's) is counted unchanged, not read."""
    fmt, width = reading.fmt, len(reading.header)
    prefix = f"{fmt}\x1e{reading.mapping_key}\x1e"
    mapped: list[tuple[int, list[str], Any]] = []
    for index, (line, cells) in enumerate(batch):
        if len(cells) != width:
            rejects.add(line, cells, "", f"has {len(cells)} cells; the header has {width}")
            continue
        if reading.stray_bytes and (stray := csv_shape.undecodable(cells)):
            rejects.add(line, cells, "", f"holds a byte that is not UTF-8 ({stray})")
            continue
        row_print = None if fmt == "touches" else fingerprint(prefix + "\x1f".join(cells))
        if row_print and stored and stored[index] == row_print:
            summary.unchanged += 1
            continue
        try:
            record = reading.mapper(cells)
        except RowError as error:
            rejects.add(line, cells, error.column, error.reason)
            continue
        if row_print:
            record.fingerprint = row_print
            if reading.history_at is not None:
                record.values["history_at"] = reading.history_at
            if not record.values.get("owner_email"):
                summary.unowned += 1
            if undated(record.values):
                summary.undated += 1
            for what, value in record.unmapped:
                summary.unmapped[what][value] += 1
            summary.sources[str(record.values.get("source") or "")] += 1
        mapped.append((line, cells, record))
    return mapped
