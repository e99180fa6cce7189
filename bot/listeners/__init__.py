"""Slack surfaces, one module per listener, registered here directly on the Bolt app (after
bolt-python's starter template). Every listener finds `Deps` in Bolt's context
(`bot.deps.provide`, one global middleware). The slash commands are the ones `manifest.yml`
declares to Slack, each answered by `handle_<name>` in `bot/listeners/commands/<name>.py`."""

from __future__ import annotations

import importlib
import re
from functools import cache
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.context.respond import Respond

from bot.deps import Deps, provide
from bot.listeners.actions import (
    action_items,
    agreement,
    checkin,
    digest_details,
    quota_share,
    routing,
    setup,
    sla_alert,
)
from bot.listeners.edges import handle_unknown_action, slack_edges
from bot.listeners.errors import handle_error
from bot.listeners.events import app_home, workspace
from bot.listeners.views import agreement as agreement_views
from bot.listeners.views import recycle
from bot.resources import manifest
from bot.slack import ids


@cache
def slash_commands() -> tuple[str, ...]:
    """The slash commands `manifest.yml` declares to Slack ("/quota", …)."""
    return tuple(entry["command"] for entry in manifest()["features"]["slash_commands"])


def register_listeners(app: App, deps: Deps) -> None:
    app.use(provide(deps))
    app.use(slack_edges(deps))
    for command in slash_commands():
        name = command.removeprefix("/")
        module = importlib.import_module(f"bot.listeners.commands.{name}")
        app.command(command)(getattr(module, f"handle_{name}"))
    app.action(ids.CONTACTED)(sla_alert.handle_contacted)
    app.action(ids.SNOOZE)(sla_alert.handle_snooze)
    app.action(ids.RECYCLE)(sla_alert.handle_recycle)
    app.action(ids.OPEN_HOME)(sla_alert.handle_open_home)
    app.action(ids.PAGE)(sla_alert.handle_page)
    app.action(ids.DIGEST_DETAILS)(digest_details.handle_digest_details)
    app.action(ids.QUOTA_SHARE)(quota_share.handle_quota_share)
    app.action(ids.SETUP_OWNER)(setup.handle_setup_owner)
    app.action(ids.SETUP_AWAY_SAVE)(setup.handle_setup_away)
    app.action(ids.TEAM_SAVE)(setup.handle_team_save)
    app.action(ids.REP_SAVE)(setup.handle_rep_save)
    pickers = (ids.SETUP_AWAY_REP, ids.SETUP_AWAY_FROM, ids.SETUP_AWAY_UNTIL, ids.TEAM_CHANNEL,
               ids.TEAM_STANDUP, ids.REP_USER, ids.REP_TEAM, ids.REP_MANAGER)  # fmt: skip
    for picker in pickers:
        app.action(picker)(setup.handle_setup_input)
    app.action(ids.REASSIGN)(routing.handle_reassign)
    app.action(ids.HAND_BACK)(routing.handle_hand_back)
    app.action(ids.COVER)(routing.handle_cover)
    app.action(ids.HISTORY)(routing.handle_history)
    app.action(ids.APPROVE)(agreement.handle_approve)
    app.action(ids.REQUEST_CHANGES)(agreement.handle_request_changes)
    app.action(ids.RECALIBRATE)(agreement.handle_recalibrate)
    app.view(ids.PROPOSE)(agreement_views.handle_propose_submit)
    app.view(ids.REQUEST_CHANGES)(agreement_views.handle_changes_submit)
    app.action(ids.ACTION_ADD)(action_items.handle_action_add)
    app.action(ids.ACTION_DONE)(action_items.handle_action_done)
    app.view(ids.ACTION_ADD)(action_items.handle_action_submit)
    app.action(ids.CHECKIN_REASON)(checkin.handle_checkin_reason)
    app.action(ids.CHECKIN_BLOCKER)(checkin.handle_checkin_blocker)
    app.view(ids.CHECKIN_OTHER)(checkin.handle_checkin_other)
    app.view(ids.RECYCLE)(recycle.handle_recycle_submit)
    app.view(ids.COVER)(routing.handle_cover_submit)
    app.event("app_home_opened")(app_home.handle_app_home_opened)
    app.event("app_uninstalled")(workspace.handle_app_uninstalled)
    app.event("tokens_revoked")(workspace.handle_tokens_revoked)
    app.action(re.compile(".*"))(handle_unknown_action)  # last: any action not known above

    # bound here, not read from the context: an error may come before the middleware has run
    @app.error
    def on_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None, respond: Respond
    ) -> BoltResponse | None:
        return handle_error(deps, error, body, response, respond)
