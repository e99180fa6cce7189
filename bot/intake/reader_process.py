"""A CRM's pages read ahead: in a process of its own, or on a thread.

Fetching, decoding and mapping a page of a CRM's API (HTTP, JSON, owners, statuses, dates)
cost about as much interpreter time as storing it. In a second process the two overlap on two
cores; in a second thread they would take turns holding one interpreter lock. Used by `slabot
sync`, whose pass may be a backfill of every record; the clock's minute-by-minute passes fetch
on a thread (waiting on the CRM does not hold the lock)."""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from bot.intake.errors import CrmError

T = TypeVar("T")
AHEAD = 8  # pages read ahead of the one being stored
POLL = 1.0  # seconds: how often each side looks whether the other is still there


YOUNG = 50_000  # objects allocated between two collections of the youngest generation


def collect_less() -> None:
    """For a process that reads or stores a bulk pass: what it has loaded so far lives as
    long as it does and is never scanned again (`gc.freeze`), and the youngest generation is
    collected every 50,000 allocations, not 700. A pass allocates a few dozen objects per
    record, nearly all freed at once by reference counting; with the defaults the collector
    took about as long as mapping the records."""
    gc.freeze()
    gc.set_threshold(YOUNG, 20, 20)


class ReaderEnded(RuntimeError):
    """The reading process ended before its reading did (killed, out of memory)."""


def read_elsewhere(produce: Callable[..., Iterator[T]], *args: Any) -> Iterator[T]:
    """What `produce(*args)` yields, produced in a new process (`produce` and `args` must be
    picklable: a module's function and plain values). A CrmError there is raised here as it
    was, the process's early end as ReaderEnded; the process ends when this iterator does,
    and on its own when this process dies."""
    context = multiprocessing.get_context("spawn")  # never fork a process that has threads
    channel: Any = context.Queue(maxsize=AHEAD)
    child = context.Process(
        target=_produce,
        args=(channel, os.getpid(), produce, args),
        name="slabot-reader",
        daemon=True,
    )
    child.start()
    try:
        while True:
            try:
                kind, value = channel.get(timeout=POLL)
            except queue.Empty:
                if child.is_alive():
                    continue
                raise ReaderEnded(
                    f"the reader process ended early (exit code {child.exitcode})"
                ) from None
            if kind == "item":
                yield value
            elif kind == "end":
                return
            elif kind == "crm_error":
                message, transient, retry_after = value
                raise CrmError(message, transient=transient, retry_after=retry_after)
            else:
                raise RuntimeError(f"the reader process failed: {value}")
    finally:
        child.terminate()
        child.join(timeout=5)
        channel.close()


def _produce(channel: Any, parent: int, produce: Callable[..., Iterator[Any]], args: tuple) -> None:
    collect_less()
    try:
        for item in produce(*args):
            if not _put(channel, ("item", item), parent):
                return
        _put(channel, ("end", None), parent)
    except CrmError as error:
        _put(channel, ("crm_error", (str(error), error.transient, error.retry_after)), parent)
    except Exception as error:
        _put(channel, ("error", f"{type(error).__name__}: {error}"), parent)


def _put(channel: Any, message: tuple, parent: int) -> bool:
    """Hand `message` over; False once the process that started this one is gone (killed:
    nobody would store what is read)."""
    while os.getppid() == parent:
        try:
            channel.put(message, timeout=POLL)
            return True
        except queue.Full:
            continue
    return False


def prefetched(pages: Iterable[T]) -> Iterator[T]:
    """`pages`, each fetched on a helper thread while the caller works on the one before."""
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
