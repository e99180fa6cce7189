"""`slabot run` over Socket Mode: a local WebSocket server plays Slack's side of the protocol."""

from __future__ import annotations

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
