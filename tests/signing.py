"""Slack's v0 request signing, written from Slack's documentation, for tests and benchmarks."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from urllib.parse import urlencode

SIGNING_SECRET = "test-signing-secret"


def slack_signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(secret, ts, body),
    }


def slash_command_body(
    command: str,
    text: str,
    *,
    user_id: str = "U0RITA",
    response_url: str = "https://hooks.slack.com/commands/T0TEST/1/x",
) -> str:
    return urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": "T0TEST",
            "team_domain": "test",
            "channel_id": "C0STANDUP",
            "channel_name": "standup",
            "user_id": user_id,
            "user_name": "rita",
            "command": command,
            "text": text,
            "api_app_id": "A0SLABOT",
            "response_url": response_url,
            "trigger_id": "123.456.abc",
        }
    )


def _block_actions(user_id: str) -> dict:
    """What every `block_actions` payload starts with: its type, the team, the user, the app."""
    return {
        "type": "block_actions",
        "team": {"id": "T0TEST", "domain": "test"},
        "user": {"id": user_id, "username": "someone", "team_id": "T0TEST"},
        "api_app_id": "A0SLABOT",
        "token": "deprecated-verification-token",
    }


def block_action_body(
    action_id: str,
    value: str,
    *,
    response_url: str,
    user_id: str = "U0RITA",
    channel: str = "C0STANDUP",
    message_ts: str = "1.2",
    ephemeral: bool = True,
) -> str:
    payload = {
        **_block_actions(user_id),
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "trigger_id": "123.456.abc",
        "channel": {"id": channel, "name": "standup"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "type": "button",
                "value": value,
                "action_ts": "1700000000.1",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def home_action_body(action: dict, *, user_id: str, state: dict | None = None) -> str:
    """A `block_actions` from the App Home tab, as Slack sends it: the container is the view,
    which carries its inputs' state (`{block_id: {action_id: value}}`); no response URL."""
    payload = {
        **_block_actions(user_id),
        "container": {"type": "view", "view_id": "V0HOME"},
        "trigger_id": "123.456.abc",
        "view": {"id": "V0HOME", "type": "home", "team_id": "T0TEST",
                 "state": {"values": state or {}}},
        "actions": [{**action, "action_ts": "1700000002.1"}],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)})


def modal_action_body(action_id: str, *, callback_id: str, user_id: str) -> str:
    """A button pressed inside an open modal: the container is the view (its id and hash, for
    `views.update`); no response URL."""
    payload = {
        **_block_actions(user_id),
        "container": {"type": "view", "view_id": "V0MODAL"},
        "trigger_id": "123.456.ghi",
        "view": {"id": "V0MODAL", "type": "modal", "callback_id": callback_id,
                 "hash": "1700000000.xyz", "state": {"values": {}}},
        "actions": [{"action_id": action_id, "block_id": "recalibrate", "type": "button",
                     "value": "recalibrate", "action_ts": "1700000003.1"}],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)})


def view_submission_body(
    callback_id: str,
    values: dict,
    *,
    private_metadata: str,
    user_id: str = "U0RITA",
    blocks: list[dict] | None = None,
) -> str:
    payload = {
        "type": "view_submission",
        "team": {"id": "T0TEST", "domain": "test"},
        "user": {"id": user_id, "username": "rita", "team_id": "T0TEST"},
        "api_app_id": "A0SLABOT",
        "token": "deprecated-verification-token",
        "trigger_id": "123.456.def",
        "view": {
            "id": "V0RECYCLE",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "blocks": blocks or [],
            "state": {"values": values},
            "hash": "1700000000.abc",
        },
    }
    return urlencode({"payload": json.dumps(payload)})


_EVENT_IDS = itertools.count(int(time.time() * 1000) % 10**8)


def event_body(event: dict, *, event_id: str | None = None) -> str:
    """An Events API delivery; each its own `event_id` unless a test repeats one (a retry)."""
    return json.dumps(
        {
            "token": "deprecated-verification-token",
            "team_id": "T0TEST",
            "api_app_id": "A0SLABOT",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev0{next(_EVENT_IDS):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0TEST", "user_id": "U0BOT", "is_bot": True}],
        }
    )


def slabot_webhook_headers(secret: str, body: bytes, *, age: int = 0) -> dict[str, str]:
    """The native webhook's signature: v0=hex(hmac_sha256(secret, "v0:{ts}:{body}"))."""
    ts = str(int(time.time()) - age)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Slabot-Request-Timestamp": ts,
        "X-Slabot-Signature": f"v0={digest}",
    }
