"""The web process: Bolt over HTTP, the health check and (later) the ingest webhooks."""

from __future__ import annotations

from flask import Flask, jsonify, request
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from sqlalchemy import text
from sqlalchemy.engine import Engine


def create_web_app(bolt_app: App, engine: Engine) -> Flask:
    web = Flask("slabot")
    slack = SlackRequestHandler(bolt_app)

    @web.post("/slack/events")
    def slack_events():  # type: ignore[no-untyped-def]
        return slack.handle(request)

    @web.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:  # any database failure means "not healthy"
            return jsonify(ok=False, database=type(error).__name__), 503
        return jsonify(ok=True, database="ok")

    return web
