"""The floor for the HTTP benchmark: a bare Bolt app on the same server, answering a constant."""

from __future__ import annotations

import os

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.server import serve


def factory() -> SlackRequestHandler:
    app = App(
        client=WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        process_before_response=True,
        token_verification_enabled=False,
    )

    @app.command("/quota")
    def constant(ack: Ack) -> None:
        ack(response_type="ephemeral", text="250 deals, 1,087 opportunities, 1,326 SQLs")

    return SlackRequestHandler(app)


if __name__ == "__main__":
    serve(factory, port=int(os.environ["PORT"]), workers=int(os.environ.get("WEB_CONCURRENCY", 1)))
