"""One Settings object, read from the environment (names are a contract, see DESIGN.md)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///slabot.db"

# What each required variable is, for the one-line error when it is missing.
_EXPLAIN = {
    "SLACK_BOT_TOKEN": "the bot token (xoxb-…) from the app's OAuth & Permissions page",
    "SLACK_SIGNING_SECRET": "the signing secret from the app's Basic Information page",
    "SLACK_APP_TOKEN": "an app-level token (xapp-…) with connections:write, for Socket Mode",
    "SLABOT_WEBHOOK_SECRET": "the shared secret that signs POST /webhooks/* requests",
}


class MissingSetting(Exception):
    """A setting that the started process needs is not in the environment."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"missing required setting {name}: {_EXPLAIN.get(name, 'not set')}")


class Settings(BaseSettings):
    """Everything slabot reads from its environment."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    port: int = Field(3000, validation_alias="PORT")
    web_concurrency: int = Field(2, validation_alias="WEB_CONCURRENCY")
    config_path: Path = Field(Path("sla.toml"), validation_alias="SLABOT_CONFIG")
    webhook_secret: SecretStr | None = Field(None, validation_alias="SLABOT_WEBHOOK_SECRET")
    hubspot_client_secret: SecretStr | None = Field(None, validation_alias="HUBSPOT_CLIENT_SECRET")
    admins_raw: str = Field("", validation_alias=AliasChoices("SLABOT_ADMINS", "admins_raw"))
    templates_dir: Path | None = Field(None, validation_alias="SLABOT_TEMPLATES")
    # "json": one JSON object per log line (for a log pipeline); "text": plain lines
    log_format: Literal["text", "json"] = Field("text", validation_alias="LOG_FORMAT")
    # the clock's breach scan runs this often (seconds)
    scan_interval: int = Field(60, ge=5, validation_alias="SLABOT_SCAN_INTERVAL")
    # the clock starts at most this many alert posts a minute (all clocks together). Slack
    # allows chat.postMessage one a second per channel (each DM is its own) within a
    # workspace-wide allowance of "several hundred a minute": 270 keeps under 300 with room
    # for the stand-up digests and threads. Folds (a chat.update each, Tier 3) are paced
    # apart, 40 a minute; people resolve from one users.list walk, not a look-up each
    alerts_per_minute: int = Field(270, ge=1, validation_alias="SLABOT_ALERTS_PER_MINUTE")
    # a message Slack did not take is tried again after this, doubling up to 15 minutes (s)
    retry_base: int = Field(30, ge=1, validation_alias="SLABOT_RETRY_BASE")
    # a message claimed longer ago than this by a sender that never finished is looked for
    # in Slack and sent again only if it is not there (seconds)
    send_lease: int = Field(120, ge=0, validation_alias="SLABOT_SEND_LEASE")
    # a clock that was down at a team's stand-up time still posts the digest this many seconds
    # late; later than that, the morning's digest is skipped as stale
    digest_grace: int = Field(7200, ge=0, validation_alias="SLABOT_DIGEST_GRACE")
    # PostgreSQL: a statement of the web process or the clock that runs longer is cancelled
    # and tried again (seconds; imports and migrations are not bounded)
    statement_timeout: float = Field(30, gt=0, validation_alias="SLABOT_STATEMENT_TIMEOUT")
    # live CRM sync: the clock reads what changed in the CRM this often, before its scan (s)
    sync_interval: int = Field(60, ge=5, validation_alias="SLABOT_SYNC_INTERVAL")
    # HubSpot: a private app's access token (scopes crm.objects.contacts.read and .write,
    # crm.objects.owners.read, crm.schemas.contacts.read: the Lead Status options); the API's
    # address is overridable for a local stand-in
    hubspot_access_token: SecretStr | None = Field(None, validation_alias="HUBSPOT_ACCESS_TOKEN")
    hubspot_api_url: str = Field("https://api.hubapi.com", validation_alias="HUBSPOT_API_URL")
    # Salesforce: a connected app's OAuth client credentials flow (consumer key and secret, no
    # username; the token asked from the My Domain), its JWT bearer flow (username, consumer
    # key, private key file) or its username-password flow (username, password with the
    # security token appended, consumer key and secret); `SALESFORCE_INSTANCE_URL` overrides
    # the instance the token answer names (a sandbox behind a proxy, a local stand-in)
    salesforce_login_url: str = Field(
        "https://login.salesforce.com", validation_alias="SALESFORCE_LOGIN_URL"
    )
    salesforce_instance_url: str | None = Field(None, validation_alias="SALESFORCE_INSTANCE_URL")
    salesforce_username: str | None = Field(None, validation_alias="SALESFORCE_USERNAME")
    salesforce_password: SecretStr | None = Field(None, validation_alias="SALESFORCE_PASSWORD")
    salesforce_security_token: SecretStr | None = Field(
        None, validation_alias="SALESFORCE_SECURITY_TOKEN"
    )
    salesforce_consumer_key: str | None = Field(None, validation_alias="SALESFORCE_CONSUMER_KEY")
    salesforce_consumer_secret: SecretStr | None = Field(
        None, validation_alias="SALESFORCE_CONSUMER_SECRET"
    )
    salesforce_private_key_file: Path | None = Field(
        None, validation_alias="SALESFORCE_PRIVATE_KEY_FILE"
    )
    salesforce_api_version: str = Field("62.0", validation_alias="SALESFORCE_API_VERSION")

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("hubspot_api_url", "salesforce_login_url", "salesforce_instance_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        """Accept Heroku's `postgres://` and plain `postgresql://`; we speak psycopg 3."""
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @cached_property
    def admins(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.admins_raw.split(",") if part.strip())

    def require(self, *names: str) -> None:
        """Raise MissingSetting for the first of the named variables that is not set."""
        fields = {
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
            "SLACK_APP_TOKEN": self.slack_app_token,
            "SLABOT_WEBHOOK_SECRET": self.webhook_secret,
        }
        for name in names:
            value = fields[name]
            if value is None or not value.get_secret_value():
                raise MissingSetting(name)

    @staticmethod
    def secret(value: SecretStr | None) -> str:
        return value.get_secret_value() if value is not None else ""
