"""Contacts changed since a time, read as fast as HubSpot lets anyone read them.

HubSpot's CRM search takes five requests a second per account, 200 results a page and 10,000
results a query. Walked one page after another, a backfill waits on every round trip (a
quarter second from most places: four pages a second at best) and never reaches the limit.
So a large read is cut into time slices of `lastmodifieddate`, walked side by side by a few
streams, each with its own HTTP session, all starting their requests through one pace of
five a second. A small read (the steady minute-by-minute sync) stays one walk.

Pages come out in the order they arrive. The position each carries is where a later pass may
safely start: the earliest point not yet read in every slice (everything before it has been),
so a pass ended early loses nothing and reads again at most what one slice had read.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.intake.errors import CrmError

SEARCHES_PER_SECOND = 5  # HubSpot: the CRM search endpoints, per account
PACE_MARGIN = 0.05  # seconds added to each second: requests arrive a little apart from sending
PAGE = 200  # the search API's largest page ("up to 200 objects")
SEARCH_WINDOW = 10_000  # a search returns at most this many results: then search again
STREAMS = 6  # searches side by side: five a second need several in flight (a round trip each)
PARALLEL_FROM = 10 * PAGE  # fewer changed contacts than this are read in one walk


@dataclass(frozen=True)
class ContactPage:
    contacts: list[dict]  # the search API's results: {"id", "properties", …}
    total: int  # how many the search matched
    last_modified: datetime | None  # where a later pass may start (everything before is read)


class SearchPace:
    """No more than `per_second` searches started in any second, across threads."""

    def __init__(self, per_second: int = SEARCHES_PER_SECOND) -> None:
        self.per_second = per_second
        self._started: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self) -> None:
        window = 1.0 + PACE_MARGIN
        while True:
            with self._lock:
                now = time.monotonic()
                while self._started and now - self._started[0] >= window:
                    self._started.popleft()
                if len(self._started) < self.per_second:
                    self._started.append(now)
                    return
                wait = window - (now - self._started[0])
            time.sleep(wait)


Search = Callable[[dict], dict]  # one search request's body → HubSpot's answer


def walk(
    search: Search, properties: Sequence[str], low: datetime | None
) -> Generator[tuple[list[dict], int, datetime | None, bool], None, None]:
    """(results, total, last modified, whether it is the last page) of each page of the
    contacts modified at or after `low`, oldest change first. Past the search's 10,000
    results it searches again from the last modification time read (a contact read twice
    is harmless: storing is idempotent)."""
    start, after, read = low, None, 0
    while True:
        answer = search(_query(properties, start, None, after))
        results = answer.get("results") or []
        last = _modified(results[-1]) if results else None
        after = next_after(answer)
        final = not results or after is None
        yield results, int(answer.get("total") or 0), last, final
        read += len(results)
        if final:
            return
        if read + PAGE > SEARCH_WINDOW:  # the next page is past the window
            if last is None or last == start:
                raise CrmError(
                    f"more than {SEARCH_WINDOW:,} HubSpot contacts share the modification "
                    f"time {start}: the search API cannot page past them",
                    transient=False,
                )
            start, after, read = last, None, 0


def changed_contacts(
    search: Search,
    stream: Callable[[], Search],
    since: datetime | None,
    properties: Sequence[str],
    *,
    now: datetime | None = None,
) -> Iterator[ContactPage]:
    """Every contact modified at or after `since` (all for None), with `properties`: one walk
    when few changed; else the rest after the first page, up to `now`, in slices walked by
    STREAMS searches from `stream()` (each its own session) side by side."""
    now = now or datetime.now(UTC)
    first = walk(search, properties, since)
    results, total, last, _ = next(first)
    if total - len(results) < PARALLEL_FROM or last is None or last >= now:
        yield ContactPage(results, total, last)
        for results, total, last, _ in first:
            yield ContactPage(results, total, last)
        return
    first.close()
    slices = _Slices(last, now)
    yield ContactPage(results, total, last)
    yield from _side_by_side(stream, properties, slices, total)


@dataclass
class _Slice:
    """A span [low, high) of modification times one stream walks; `high` moves down when an
    idle stream takes the later part of it."""

    low: datetime
    high: datetime
    position: datetime  # nothing before it in the slice is left to read
    left: float | None = None  # contacts estimated left in it (None: not known yet)
    per_second: float | None = None  # contacts per second of modification time, as seen
    cut: bool = False  # `high` moved while it was walked: search again from `position`
    done: bool = False


class _Slices:
    """The spans of a large read. Each idle stream takes the later half of the busiest span
    (by the contacts left in it, from the search's totals and the density its pages show), so
    the streams stay busy however unevenly the changes fall in time."""

    def __init__(self, low: datetime, high: datetime) -> None:
        self.all = [_Slice(low, high, low)]
        self._taken = 0
        self._lock = threading.Lock()

    def take(self) -> _Slice | bool | None:
        """A span to walk; True: wait a moment (nobody knows yet how much is left); None:
        nothing is worth splitting any more."""
        with self._lock:
            if self._taken == 0:
                self._taken = 1
                return self.all[0]
            known = [s for s in self.all if not s.done and s.left is not None and s.per_second]
            if not known:
                return True if any(not s.done for s in self.all) else None
            busiest = max(known, key=lambda part: part.left or 0)
            if (busiest.left or 0) < 2 * PAGE:
                return None
            ahead = timedelta(seconds=(busiest.left or 0) / 2 / (busiest.per_second or 1))
            cut = busiest.position + ahead
            if not busiest.position < cut < busiest.high:
                cut = busiest.position + (busiest.high - busiest.position) / 2
            later = _Slice(cut, busiest.high, cut)
            busiest.high, busiest.cut, busiest.left = cut, True, (busiest.left or 0) / 2
            self.all.insert(self.all.index(busiest) + 1, later)
            return later

    def read(
        self, part: _Slice, results: list[dict], *, total: int, read: int, more: bool
    ) -> tuple[list[dict], bool, bool, datetime]:
        """A page of `part` arrived: (its results within the span as it is now, whether the
        span is done, whether to search again from its position, where a later pass may
        start)."""
        with self._lock:
            kept = [each for each in results if (_modified(each) or part.low) < part.high]
            done = not more or len(kept) < len(results) or not results
            again, part.cut = part.cut and not done, False
            if kept:
                first, last = _modified(kept[0]), _modified(kept[-1])
                part.position = last or part.position
                if first and last and last > first:
                    part.per_second = len(kept) / (last - first).total_seconds()
                part.left = max(0, total - read - len(kept))
            part.done = done
            unread = next((each for each in self.all if not each.done), None)
            if unread is not None:
                return kept, done, again, unread.position
            return kept, done, again, max(each.position for each in self.all)

    def bounds(self, part: _Slice) -> tuple[datetime, datetime]:
        with self._lock:
            return part.position, part.high


def _walk_span(
    search: Search,
    properties: Sequence[str],
    part: _Slice,
    slices: _Slices,
    total: int,
    stopping: threading.Event,
) -> Iterator[ContactPage]:
    """The pages of one span, oldest change first, searching again from where it got to
    when its end moves or the search's 10,000-result window is reached."""
    start, high = slices.bounds(part)
    after: str | None = None
    read = 0
    while not stopping.is_set():
        answer = search(_query(properties, start, high, after))
        after = next_after(answer)
        results = answer.get("results") or []
        kept, done, again, safe = slices.read(
            part, results, total=int(answer.get("total") or 0), read=read, more=after is not None
        )
        if kept:
            yield ContactPage(kept, total, safe)
        if done:
            return
        read += len(results)
        if again or read + PAGE > SEARCH_WINDOW:
            if not again and _modified(results[-1]) == start:
                raise CrmError(
                    f"more than {SEARCH_WINDOW:,} HubSpot contacts share the modification "
                    f"time {start}: the search API cannot page past them",
                    transient=False,
                )
            (start, high), after, read = slices.bounds(part), None, 0


def _side_by_side(
    stream: Callable[[], Search], properties: Sequence[str], slices: _Slices, total: int
) -> Iterator[ContactPage]:
    ready: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=2 * STREAMS)
    stopping = threading.Event()

    def hand_over(item: tuple[str, object]) -> bool:
        while not stopping.is_set():
            try:
                ready.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            search = stream()
            while not stopping.is_set():
                part = slices.take()
                if part is None:
                    return
                if part is True:
                    time.sleep(0.05)
                    continue
                assert isinstance(part, _Slice)
                for page in _walk_span(search, properties, part, slices, total, stopping):
                    if not hand_over(("page", page)):
                        return
        except BaseException as error:  # handed to the reading thread
            hand_over(("error", error))
        finally:
            hand_over(("end", None))

    for n in range(STREAMS):
        threading.Thread(target=work, name=f"slabot-hubspot-search-{n}", daemon=True).start()
    ended = 0
    try:
        while ended < STREAMS:
            kind, value = ready.get()
            if kind == "end":
                ended += 1
            elif kind == "error":
                raise value  # type: ignore[misc]
            else:
                yield value  # type: ignore[misc]
    finally:
        stopping.set()


def _modified(contact: dict) -> datetime | None:
    return parse_time((contact.get("properties") or {}).get("lastmodifieddate"))


def parse_time(value: str | None) -> datetime | None:
    """HubSpot datetimes: ISO 8601 (`2026-11-20T14:03:00.123Z`) or epoch milliseconds."""
    if not value:
        return None
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _query(
    properties: Sequence[str], low: datetime | None, high: datetime | None, after: str | None
) -> dict:
    """A search for the contacts modified in [low, high), oldest change first, a page of 200
    (from `after`)."""
    body: dict = {
        "filterGroups": _between(low, high),
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": list(properties),
        "limit": PAGE,
    }
    if after is not None:
        body["after"] = after
    return body


def _between(low: datetime | None, high: datetime | None) -> list[dict]:
    filters = [
        {"propertyName": "lastmodifieddate", "operator": operator, "value": _ms(at)}
        for operator, at in (("GTE", low), ("LT", high))
        if at is not None
    ]
    return [{"filters": filters}] if filters else []


def _ms(at: datetime) -> str:
    return str(int(at.timestamp() * 1000))


def next_after(answer: dict) -> str | None:
    """The next page's cursor: an opaque token, passed back as HubSpot gave it."""
    after = ((answer.get("paging") or {}).get("next") or {}).get("after")
    return None if after in (None, "") else str(after)
