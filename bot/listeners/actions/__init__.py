from slack_bolt import App

from bot.listeners.actions.quota_share import handle_quota_share


def register(app: App) -> None:
    app.action("quota_share")(handle_quota_share)
