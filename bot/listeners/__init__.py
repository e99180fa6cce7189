"""Slack surfaces. One folder per surface, each with `register(app)` (Bolt starter template)."""

from slack_bolt import App

from bot.listeners import actions, commands, events


def register_listeners(app: App) -> None:
    commands.register(app)
    actions.register(app)
    events.register(app)
