"""The Bolt app factory: settings + storage in, a ready App out."""

from __future__ import annotations

import logging

from slack_bolt import App
from sqlalchemy.engine import Engine

from bot.deps import Deps
from bot.listeners import register_listeners
from bot.settings import Settings
from bot.slack.client import make_web_client
from bot.slack.render import Renderer


def build_app(settings: Settings, engine: Engine, *, socket_mode: bool = False) -> App:
    """Build the Bolt App.

    Over HTTP every request is signature-checked and answered when its listener returns
    (`process_before_response`): a listener returns within `answering.ANSWER_WITHIN` seconds,
    and work that a busy database holds up goes on after it. Socket Mode needs no signing
    secret and acknowledges first.
    """
    settings.require("SLACK_BOT_TOKEN", *(() if socket_mode else ("SLACK_SIGNING_SECRET",)))
    deps = Deps(settings=settings, engine=engine, renderer=Renderer(settings.templates_dir))
    app = App(
        client=make_web_client(settings),
        signing_secret=Settings.secret(settings.slack_signing_secret) or None,
        request_verification_enabled=not socket_mode,
        process_before_response=not socket_mode,
        # Verify the token on the first request, not at boot: a Slack outage must not stop
        # the web process from starting.
        token_verification_enabled=False,
        # under `slack_bolt`, whose INFO lines (a refused request's whole body) are not logged
        logger=logging.getLogger("slack_bolt.app"),
    )

    register_listeners(app, deps)
    return app
