"""What every command shares: the consoles, one-line errors, logging, the database, Slack's
settings, and how times and dates are typed."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from rich.console import Console

from bot.settings import Settings

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class CliError(Exception):
    """A failure to report in one line, with exit code 2."""


NO_AGREEMENT = "no agreement is in force: apply one with `slabot sla apply sla.toml`"


def configure_logging() -> None:
    """Plain lines, or with LOG_FORMAT=json one JSON object per line (a message's newlines
    and quotes escaped, a traceback in its `exc_info` field)."""
    if Settings().log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler = logging.StreamHandler()
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
        logging.basicConfig(level=logging.INFO, handlers=[handler])
    else:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    for noisy in ("slack_sdk", "slack_bolt", "urllib3", "apscheduler.executors", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def open_engine(settings: Settings, *, migrate_embedded: bool = True, serving: bool = False):
    """The engine for DATABASE_URL, at the newest schema: an embedded SQLite file is upgraded
    in place; a shared database must have been upgraded by `slabot db upgrade`. A `serving`
    process (web, clock) bounds each statement by SLABOT_STATEMENT_TIMEOUT."""
    from storage.db import is_sqlite, make_engine
    from storage.migrate import SchemaBehind, ensure_current

    refuse_private_database(settings)
    engine = make_engine(
        settings.database_url, statement_timeout=settings.statement_timeout if serving else None
    )
    try:
        ensure_current(engine, auto_upgrade=migrate_embedded and is_sqlite(settings.database_url))
    except SchemaBehind as error:
        raise CliError(str(error)) from error
    return engine


def refuse_private_database(settings: Settings) -> None:
    """On a platform host (Heroku sets DYNO) every process has its own disk: an embedded
    SQLite file would be a different database in the web and the clock, without a word."""
    import os

    from storage.db import is_sqlite

    if os.environ.get("DYNO") and is_sqlite(settings.database_url):
        raise CliError(
            "DATABASE_URL is not set on this platform host (DYNO is set): each process would "
            "keep its own SQLite file. Add PostgreSQL (heroku addons:create heroku-postgresql)"
        )


def sending(dry_run: bool):
    """Settings and renderer for a command that posts to Slack unless `dry_run`."""
    from bot.slack.render import Renderer

    settings = Settings()
    if not dry_run:
        settings.require("SLACK_BOT_TOKEN")
    configure_logging()
    return settings, Renderer(settings.templates_dir)


def refresh_people(engine, settings: Settings) -> None:
    """Owners given by name are also found by Slack real name: keep `users.list` fresh when
    Slack is configured; without it (or when Slack fails) names match the agreement only."""
    if not Settings.secret(settings.slack_bot_token):
        return
    from bot.slack.client import make_web_client
    from bot.slack.directory import SlackApiError, refresh_profiles

    try:
        refresh_profiles(engine, make_web_client(settings, timeout=10))
    except (SlackApiError, OSError) as error:
        err.print(
            f"Slack's people list could not be read ({error}); owners match by email, "
            "CRM ids and the agreement's names only."
        )


def parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise CliError(f"{text!r} is not an ISO time such as 2026-11-20T09:30-05:00") from error
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise CliError(f"{text!r} is not a date; write it as YYYY-MM-DD") from error
