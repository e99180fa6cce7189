"""A TCP forwarder in front of PostgreSQL that a test can cut (every connection dropped, new
ones refused, as during a database restart) and restore."""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit, urlunsplit


class DatabaseProxy:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._parts = parts
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.hanging = threading.Event()
        self.port = 0
        self.restore()

    @property
    def url(self) -> str:
        """The database URL with the proxy in place of the server."""
        netloc = self._parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        netloc = f"{netloc[0]}@{host}" if len(netloc) == 2 else host
        return urlunsplit(self._parts._replace(netloc=netloc))

    def restore(self) -> None:
        """Accept connections again (on the same port)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, []
        if listener is not None:
            _shut(listener)  # wakes the thread blocked in accept()
        for each in sockets:
            _shut(each)

    def hang(self) -> None:
        """The server stops answering (stopped, swapping, a lock held): every connection, old
        and new, stays open and carries nothing."""
        self.hanging.set()

    def answer_again(self) -> None:
        """The server answers again; what was sent to it while it hung is lost."""
        self.hanging.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(
                    target=_pipe, args=(source, sink, self.hanging), daemon=True
                ).start()


def _pipe(source: socket.socket, sink: socket.socket, hanging: threading.Event) -> None:
    try:
        while data := source.recv(65536):
            if not hanging.is_set():  # hung: what comes is kept, and nothing answers
                sink.sendall(data)
    except OSError:
        pass
    finally:
        _shut(source)
        _shut(sink)


def _shut(each: socket.socket) -> None:
    with contextlib.suppress(OSError):
        each.shutdown(socket.SHUT_RDWR)
    each.close()
