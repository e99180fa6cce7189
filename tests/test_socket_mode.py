"""`slabot run` over Socket Mode: a local WebSocket server plays Slack's side of the protocol."""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from websockets.sync.server import ServerConnection, serve

from tests.conftest import free_port, slabot_env
from tests.fake_slack import APP_TOKEN, FakeSlack
from tests.signing import slash_command_body
from tests.test_clock import agreement_text


class SocketModeSlack:
    """Sends `hello`, then each queued envelope; collects what the app acknowledges. With
    `refresh_first`, the first connection says `disconnect` (refresh_requested) after its
    hello and then stays open carrying nothing, as Slack's does until it closes it."""

    def __init__(self) -> None:
        self.to_send: queue.Queue[dict] = queue.Queue()
        self.acks: queue.Queue[dict] = queue.Queue()
        self.sent_at: dict[str, float] = {}  # envelope id → when it went out
        self.sessions = 0
        self.refresh_first = False
        self.port = free_port()
        self.server = serve(self._session, "127.0.0.1", self.port)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket=test"

    def _session(self, connection: ServerConnection) -> None:
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "connection_info": {"app_id": "A0SLABOT"},
                    "debug_info": {"host": "local"},
                }
            )
        )
        self.sessions += 1
        if self.refresh_first and self.sessions == 1:
            refresh = {"type": "disconnect", "reason": "refresh_requested",
                       "debug_info": {"host": "local"}}  # fmt: skip
            connection.send(json.dumps(refresh))
            with contextlib.suppress(Exception):
                while True:
                    connection.recv()  # pings are answered; nothing else comes
            return  # the app closed it: envelopes go to the new connection
        while True:
            try:
                envelope = self.to_send.get(timeout=0.05)
                connection.send(json.dumps(envelope))
                self.sent_at[envelope["envelope_id"]] = time.monotonic()
            except queue.Empty:
                pass
            try:
                self.acks.put(json.loads(connection.recv(timeout=0.05)))
            except TimeoutError:
                continue
            except Exception:
                return


@pytest.fixture
def socket_slack() -> Iterator[SocketModeSlack]:
    slack = SocketModeSlack()
    yield slack
    slack.server.shutdown()


def test_run_answers_quota_over_socket_mode(
    tmp_path: Path, fake_slack: FakeSlack, socket_slack: SocketModeSlack
) -> None:
    fake_slack.socket_mode_url = socket_slack.url
    env = slabot_env(f"sqlite:///{tmp_path / 'x.db'}", fake_slack, SLACK_APP_TOKEN=APP_TOKEN)
    del env["SLACK_SIGNING_SECRET"]  # Socket Mode needs none
    process = start_run(env)
    try:
        from urllib.parse import parse_qsl

        payload = dict(
            parse_qsl(slash_command_body("/quota", "500k aov=2k win=23% sql2opp=82% mql2sql=34%"))
        )
        socket_slack.to_send.put(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": payload,
            }
        )
        ack = socket_slack.acks.get(timeout=30)
        assert ack["envelope_id"] == "env-1"
        assert ack["payload"]["response_type"] == "ephemeral"
        assert "3,900 MQLs" in ack["payload"]["text"]
        opened = fake_slack.calls_to("apps.connections.open")
        assert opened and opened[0].headers["authorization"] == f"Bearer {APP_TOKEN}"
    finally:
        process.terminate()
        output = process.communicate(timeout=15)[0]
    assert "Traceback" not in output, output


def test_after_a_refresh_the_first_envelope_is_acknowledged_well_within_3_seconds(
    tmp_path: Path, fake_slack: FakeSlack, socket_slack: SocketModeSlack
) -> None:
    """Slack asks for a refresh (`disconnect`, refresh_requested) and keeps the old connection
    open a while. The first envelope on the new connection is acknowledged at once (it took
    3.1 s: the old connection's reader held on for its 3 s read timeout)."""
    from urllib.parse import parse_qsl

    socket_slack.refresh_first = True
    fake_slack.socket_mode_url = socket_slack.url
    env = slabot_env(f"sqlite:///{tmp_path / 'x.db'}", fake_slack, SLACK_APP_TOKEN=APP_TOKEN)
    del env["SLACK_SIGNING_SECRET"]
    process = start_run(env)
    try:
        assert wait_until(lambda: socket_slack.sessions >= 2, 30), "no new connection"
        quota = "500k aov=2k win=23% sql2opp=82% mql2sql=34%"
        payload = dict(parse_qsl(slash_command_body("/quota", quota)))
        envelope = {"envelope_id": "env-new", "type": "slash_commands",
                    "accepts_response_payload": True, "payload": payload}  # fmt: skip
        socket_slack.to_send.put(envelope)
        ack = socket_slack.acks.get(timeout=30)
        took = time.monotonic() - socket_slack.sent_at["env-new"]
    finally:
        process.terminate()
        output = process.communicate(timeout=15)[0]
    assert ack["envelope_id"] == "env-new" and "MQLs" in ack["payload"]["text"]
    assert took < 1.5, took
    assert "Traceback" not in output, output


def test_run_is_one_process_the_digest_at_the_standup_and_the_breach_dm(
    tmp_path: Path, fake_slack: FakeSlack, socket_slack: SocketModeSlack
) -> None:
    """`slabot run` alone: the listeners over Socket Mode and the clock's jobs. The stand-up
    is set to the next whole minute; a lead assigned two days ago breaches at the first scan."""
    fake_slack.socket_mode_url = socket_slack.url
    env = slabot_env(
        f"sqlite:///{tmp_path / 'x.db'}",
        fake_slack,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLABOT_SCAN_INTERVAL="5",
    )
    del env["SLACK_SIGNING_SECRET"]
    now = datetime.now(UTC)
    standup = (now + timedelta(seconds=70)).replace(second=0, microsecond=0)
    agreement = tmp_path / "sla.toml"
    agreement.write_text(agreement_text(now, now - standup))
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "lead_id,name,company,source,owner_email,score,assigned_at\n"
        f"L-LATE,Lee,Acme,webinar,rita@example.com,80,{(now - timedelta(days=2)).isoformat()}\n"
    )
    for args in (("db", "upgrade"), ("sla", "apply", str(agreement)), ("import", str(leads))):
        subprocess.run([sys.executable, "-m", "bot", *args], env=env, check=True,
                       capture_output=True)  # fmt: skip
    process = start_run(env)
    try:
        dm = wait_until(lambda: fake_slack.posts_in("D0RITA"), 30)
        assert dm and "Acme" in json.dumps(dm[0]), "no breach DM"
        digest = wait_until(
            lambda: [
                c
                for c in fake_slack.calls_to("chat.postMessage")
                if c.body["metadata"]["event_payload"]["key"].startswith("digest:")
            ],
            (standup - datetime.now(UTC)).total_seconds() + 30,
        )
        assert digest, "no digest"
        posted_at = datetime.now(UTC)
        assert standup <= posted_at < standup + timedelta(seconds=30)  # at the stand-up
        assert fake_slack.calls_to("apps.connections.open")  # the listeners are connected too
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0]
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    assert "clock stopped" in output, output


def start_run(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until(found, seconds: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    return found()


class BlackHole:
    """A TCP relay to the Socket Mode server that, once `swallow()` is called, stops carrying
    anything on the connections it has (no close frame, no FIN: a dead NAT or a cut link), while
    new connections go through."""

    def __init__(self, target_port: int) -> None:
        import socket

        self.target = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.dead: list[object] = []
        self.swallowing: set[int] = set()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            number = self.connections
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b, number), daemon=True).start()

    def _pipe(self, source, sink, number: int) -> None:  # type: ignore[no-untyped-def]
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            if number in self.swallowing:
                continue  # the bytes go nowhere, and nothing says so
            try:
                sink.sendall(data)
            except OSError:
                return

    def swallow(self) -> None:
        self.swallowing.update(range(1, self.connections + 1))


def test_run_notices_a_dead_socket_mode_connection_within_15_seconds(
    tmp_path: Path, fake_slack: FakeSlack, socket_slack: SocketModeSlack
) -> None:
    """The link goes silent without a close frame: `slabot run` stops hearing pongs, opens a
    new connection within ~15 s (it waited 51-59 s), and answers over it."""
    hole = BlackHole(socket_slack.port)
    fake_slack.socket_mode_url = f"ws://127.0.0.1:{hole.port}/link/?ticket=test"
    env = slabot_env(f"sqlite:///{tmp_path / 'x.db'}", fake_slack, SLACK_APP_TOKEN=APP_TOKEN)
    del env["SLACK_SIGNING_SECRET"]
    process = start_run(env)
    try:
        deadline = time.monotonic() + 30
        while hole.connections < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2)  # connected, hello received
        hole.swallow()
        cut = time.monotonic()
        while hole.connections < 2 and time.monotonic() < cut + 40:
            time.sleep(0.2)
        assert hole.connections >= 2, "no new connection"
        assert time.monotonic() - cut <= 16, time.monotonic() - cut
    finally:
        process.terminate()
        output = process.communicate(timeout=15)[0]
    assert "Traceback" not in output, output
