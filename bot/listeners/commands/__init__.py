from slack_bolt import App

from bot.listeners.commands.quota import handle_quota


def register(app: App) -> None:
    app.command("/quota")(handle_quota)
