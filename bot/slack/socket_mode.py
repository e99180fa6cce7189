"""Socket Mode for `slabot run`: slack_sdk's built-in client and Bolt's handler, with the two
timings Slack's protocol needs tightened."""

from __future__ import annotations

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.builtin import SocketModeClient

# a ping every 3 s: slack_sdk calls a connection stale after four unanswered intervals, so a
# link that dies without a close frame is replaced within ~15 s (not ~55 s)
PING_SECONDS = 3
# each read of a connection waits at most this (slack_sdk's is 3 s): when Slack asks for a
# refresh, the reader lets go of the old connection within it and reads the new one, whose
# first envelope must be acknowledged within Slack's 3 s
READ_SECONDS = 0.25


class _PromptClient(SocketModeClient):
    """slack_sdk's built-in client whose connections' reads time out after READ_SECONDS."""

    def connect(self) -> None:
        super().connect()
        session = self.current_session
        if session is not None and session.sock is not None:
            session.sock.settimeout(READ_SECONDS)


class PromptSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler over `_PromptClient`."""

    def __init__(self, app: App, app_token: str) -> None:
        super().__init__(app, app_token, ping_interval=PING_SECONDS)
        self.client.close()  # the stock client Bolt made, not yet connected
        self.client = _PromptClient(
            app_token=app_token,
            logger=app.logger,
            web_client=app.client,
            proxy=app.client.proxy,
            ping_interval=PING_SECONDS,
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]
