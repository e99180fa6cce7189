"""`slabot run` over Socket Mode: a local WebSocket server plays Slack's side of the protocol."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.server import ServerConnection, serve

from tests.conftest import free_port, slabot_env
from tests.fake_slack import APP_TOKEN, FakeSlack
from tests.signing import slash_command_body


class SocketModeSlack:
    """Sends `hello`, then each queued envelope; collects what the app acknowledges."""

    def __init__(self) -> None:
        self.to_send: queue.Queue[dict] = queue.Queue()
        self.acks: queue.Queue[dict] = queue.Queue()
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
        while True:
            try:
                envelope = self.to_send.get(timeout=0.05)
                connection.send(json.dumps(envelope))
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
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
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
