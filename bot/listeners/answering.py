"""Slack hears back within its 3 seconds whatever the database is doing.

A command's answer is the acknowledgement when it is ready within `ANSWER_WITHIN`; otherwise
the acknowledgement says "working on it" and the answer follows through the command's
`response_url`. Work that meets a busy database (SQLite's write lock held by an import, a
PostgreSQL lock or statement timeout) is tried again until the database lets it through, for
up to `PATIENCE`; a database that cannot be reached at all is said at once, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as NotYet
from typing import Any, TypeVar

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.deps import Deps, deps_of
from bot.flows.delivery import sender
from bot.listeners.errors import error_answer
from storage.outages import busy

log = logging.getLogger(__name__)
T = TypeVar("T")
ANSWER_WITHIN = 2.0  # seconds: Slack shows an error when the acknowledgement takes over 3
PATIENCE = 600.0  # seconds a piece of work waits for a busy database before it gives up
_workers = ThreadPoolExecutor(16, thread_name_prefix="slabot-answer")


def patiently(work: Callable[[], T], *, patience: float = PATIENCE) -> T:
    """`work()`, tried again while the database is busy (each try is its own transaction, so
    a try that failed left nothing behind)."""
    deadline, pause = time.monotonic() + patience, 0.2
    while True:
        try:
            return work()
        except Exception as error:
            if not busy(error) or time.monotonic() + pause > deadline:
                raise
            log.info("database busy, trying again in %.1f s", pause)
        time.sleep(pause)
        pause = min(pause * 2, 5.0)


def answer_in_time(
    work: Callable[[], T],
    *,
    late: Callable[[], object],
    then: Callable[[Future[T]], None],
) -> T | None:
    """Run `work` (tried again while the database is busy). Done within ANSWER_WITHIN: its
    result, or its error raised here. Otherwise `late()` now (acknowledge "working on it"),
    `then(done)` on the worker thread when the work ends, and None."""
    running = _workers.submit(patiently, work)
    try:
        return running.result(timeout=ANSWER_WITHIN)
    except NotYet:
        pass
    late()
    running.add_done_callback(then)
    return None


def pressed(work: Callable[[dict, Respond, WebClient, Deps], None]) -> Callable[..., None]:
    """A button's Bolt listener: acknowledged at once; `work` runs on a worker thread (tried
    again while the database is busy) and a failure after the acknowledgement is said through
    the response URL."""

    def listener(
        ack: Ack, body: dict, respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        deps = deps_of(context)
        answer_in_time(
            lambda: work(body, respond, client, deps),
            late=lambda: None,
            then=tell_failure(respond, deps),
        )

    listener.__name__, listener.__doc__ = work.__name__, work.__doc__  # Bolt logs the name
    return listener


def deliver_soon(deps: Deps, client: WebClient, items: list[int]) -> None:
    """What a press queued (a card, a redraw, a thread reply) goes out now, on a thread of its
    own, beside the answer (the clock's delivery round would send it within seconds)."""
    if items:
        deliverer = sender(deps.engine, deps.settings, client)
        threading.Thread(
            target=deliverer.deliver, kwargs={"only": items}, name="slabot-press", daemon=True
        ).start()


def tell_failure(respond: Respond, deps: Deps) -> Callable[[Future[Any]], None]:
    """For work that ends after its acknowledgement: a failure is said through the response
    URL, as the error handler would have said it."""

    def then(done: Future[Any]) -> None:
        error = done.exception()
        if error is not None:
            text = error_answer(deps, error)  # type: ignore[arg-type]
            respond(response_type="ephemeral", replace_original=False, text=text)

    return then


def answer_command(
    ack: Ack, respond: Respond, deps: Deps, compute: Callable[[], dict[str, Any]]
) -> None:
    """Acknowledge a slash command with `compute()`'s answer (ephemeral), or with "working on
    it" when the answer takes longer than Slack waits; then send it through the response URL."""

    def working() -> None:
        ack(response_type="ephemeral", text=deps.renderer.slack_text("errors/working.txt.j2"))

    def then(done: Future[dict[str, Any]]) -> None:
        if done.exception() is not None:
            tell_failure(respond, deps)(done)
        else:
            respond(response_type="ephemeral", replace_original=True, **done.result())

    answer = answer_in_time(compute, late=working, then=then)
    if answer is not None:
        ack(response_type="ephemeral", **answer)
