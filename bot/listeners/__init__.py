"""Slack surfaces. One folder per surface, each with `register(app, deps)` (after the Bolt
starter template; `deps` is bound here instead of injected per request by a middleware)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt import App

from bot.listeners import actions, commands, events, views
from bot.listeners.errors import handle_error

if TYPE_CHECKING:
    from bot.app import Deps


def register_listeners(app: App, deps: Deps) -> None:
    commands.register(app, deps)
    actions.register(app, deps)
    events.register(app, deps)
    views.register(app, deps)

    @app.error
    def on_error(error, body, response, respond):  # type: ignore[no-untyped-def]
        return handle_error(deps, error, body, response, respond)
