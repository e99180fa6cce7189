"""Requests a hostile world sends `slabot serve`: huge bodies refused before they are read,
nothing of a refused body in the log, no 500 for a malformed header."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from storage.db import make_engine
from storage.migrate import upgrade
from tests.conftest import RunningServer, slabot_env, start_server, stop_server
from tests.fake_slack import FakeSlack
from tests.signing import signed_headers, slash_command_body


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("bounded")
    url = f"sqlite:///{folder / 'slabot.db'}"
    upgrade(make_engine(url))
    fake = FakeSlack().start()
    running = start_server(slabot_env(url, fake, SLABOT_WEBHOOK_SECRET="s"), folder / "serve.log")
    yield running
    stop_server(running)
    fake.stop()


def raw_request(server: RunningServer, head: str, body: bytes = b"") -> bytes:
    """Send exactly these bytes and read the answer (a body announced but never sent shows
    whether the server waits to read it)."""
    address = urlparse(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (the gunicorn workers), from /proc."""
    total, todo = 0, [pid]
    while todo:
        each = todo.pop()
        try:
            status = Path(f"/proc/{each}/status").read_text()
            children = Path(f"/proc/{each}/task/{each}/children").read_text().split()
        except OSError:
            continue  # it has just exited
        rss = next(line for line in status.splitlines() if line.startswith("VmRSS"))
        total += int(rss.split()[1])
        todo += [int(child) for child in children]
    return total


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
@pytest.mark.parametrize("path", ["/slack/events", "/webhooks/leads", "/webhooks/hubspot"])
def test_a_100_mb_body_is_refused_before_it_is_read(server: RunningServer, path: str) -> None:
    before = tree_rss_kb(server.process.pid)
    for _ in range(8):
        started = time.monotonic()
        answer = raw_request(
            server,
            f"POST {path} HTTP/1.1\nHost: x\nContent-Type: application/json\n"
            f"Content-Length: {100 * 1024 * 1024}\nConnection: close\n",
            b"UNREADBODY" * 100,  # 1 KB of the announced 100 MB: reading would wait for the rest
        )
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert time.monotonic() - started < 5
    assert tree_rss_kb(server.process.pid) - before < 10 * 1024  # flat: nothing was buffered
    time.sleep(0.3)
    assert b"UNREADBODY" not in server.log.read_bytes()


def test_a_chunked_body_is_read_no_further_than_the_limit(server: RunningServer) -> None:
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(24)) + b"0\r\n\r\n"
    answer = raw_request(
        server,
        "POST /slack/events HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n"
        "X-Slack-Request-Timestamp: 1\nConnection: close\n",
        body,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_refused_requests_leave_one_line_and_nothing_of_the_body(server: RunningServer) -> None:
    forged = "text=SECRETBODY%0AERROR+bot.security%3A+all+tokens+leaked&command=%2Fquota"
    headers = signed_headers(forged) | {"X-Slack-Signature": "v0=" + "0" * 64}
    assert server.post("/slack/events", forged, headers).status_code == 401
    bad_time = signed_headers(forged) | {"X-Slack-Request-Timestamp": "abc"}
    assert server.post("/slack/events", forged, bad_time).status_code == 401
    good = slash_command_body("/quota", "500k")
    assert server.post("/slack/events", good, signed_headers(good)).status_code == 200
    time.sleep(0.5)
    log = server.log.read_text()
    assert "SECRETBODY" not in log and "all tokens leaked" not in log
    assert "Traceback" not in log
    assert "X-Slack-Request-Timestamp" in log  # the refusal itself, on one line


def test_slow_clients_never_stop_slabot_answering_slack(server: RunningServer) -> None:
    """Eight connections (as many as both workers have threads) send their headers a byte at a
    time, and reconnect as soon as they are cut off (slowloris); signed `/quota` requests still
    answer within Slack's 3 s (they timed out at 30 s)."""
    import threading

    import httpx

    address = urlparse(server.url)
    stop = threading.Event()
    cut: list[bool] = []

    def slow() -> None:
        while not stop.is_set():
            with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
                try:
                    sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")
                    while not stop.is_set() and not closed_by_server(sock):
                        sock.sendall(b"X")  # a header that never ends
                        time.sleep(0.3)
                except OSError:
                    pass
                cut.append(True)

    def closed_by_server(sock: socket.socket) -> bool:
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False  # still open, nothing to read

    threads = [threading.Thread(target=slow, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)  # every worker thread has a slow client by now
        for _ in range(5):
            body = slash_command_body("/quota", "500k aov=2k win=23% sql2opp=82% mql2sql=34%")
            began = time.monotonic()
            answer = httpx.post(server.url + "/slack/events", content=body,
                                headers=signed_headers(body), timeout=30)  # fmt: skip
            assert answer.status_code == 200 and "3,900" in answer.text
            assert time.monotonic() - began < 3, time.monotonic() - began
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    assert len(cut) >= 8  # the slow clients were cut off (and came back)
