"""The web process: Bolt over HTTP, the health check and the ingest webhooks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, jsonify
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text
from sqlalchemy.engine import Engine

SLACK_PATH = "/slack/events"


class WebApp:
    """WSGI entry point. Slack's requests go straight to Bolt's WSGI adapter (they are the hot
    path); everything else is a small Flask app."""

    def __init__(self, bolt_app: App, engine: Engine) -> None:
        self.slack = SlackRequestHandler(bolt_app, path=SLACK_PATH)
        self.flask = _flask_app(engine)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == SLACK_PATH:
            return self.slack(environ, start_response)
        return self.flask(environ, start_response)


def _flask_app(engine: Engine) -> Flask:
    web = Flask("slabot")

    @web.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:  # any database failure means "not healthy"
            return jsonify(ok=False, database=type(error).__name__), 503
        return jsonify(ok=True, database="ok")

    return web


def create_web_app(bolt_app: App, engine: Engine) -> WebApp:
    return WebApp(bolt_app, engine)
