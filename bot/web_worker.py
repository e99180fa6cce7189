"""Gunicorn's threaded worker with a deadline on reading each request: a client that sends its
request slowly (headers a byte at a time) holds a thread for REQUEST_READ_SECONDS at most, then
is disconnected, so slow clients never stop slabot answering Slack within its 3 s. Slack's,
HubSpot's and Salesforce's servers send a whole request in milliseconds."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import ThreadWorker

REQUEST_READ_SECONDS = 1.5
log = logging.getLogger(__name__)


class _Deadline:
    """A client socket whose reads stop at a deadline (the rest of the socket as it is)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.deadline = float("inf")

    def recv(self, size: int, *flags: int) -> bytes:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self._late()
        blocking = self._sock.gettimeout()
        self._sock.settimeout(left)
        try:
            return self._sock.recv(size, *flags)
        except TimeoutError:
            raise self._late() from None
        finally:
            self._sock.settimeout(blocking)

    def _late(self) -> NoMoreData:
        log.info(
            "closed a connection from %s that took over %s s to send its request",
            self._sock.getpeername()[0] if self._sock.fileno() >= 0 else "?",
            REQUEST_READ_SECONDS,
        )
        return NoMoreData(b"")  # gunicorn closes the connection, as for a client gone

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class DeadlineThreadWorker(ThreadWorker):
    """The request line and headers must arrive within REQUEST_READ_SECONDS of the thread
    taking the connection, and the body within as long again once the app starts reading it."""

    def handle(self, conn: Any) -> Any:
        if not isinstance(conn.sock, _Deadline):
            conn.sock = _Deadline(conn.sock)
        conn.sock.deadline = time.monotonic() + REQUEST_READ_SECONDS
        return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        conn.sock.deadline = time.monotonic() + REQUEST_READ_SECONDS  # the body's own budget
        return super().handle_request(req, conn)
