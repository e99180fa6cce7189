"""Apply Alembic migrations from code (`slabot db upgrade`, the Procfile's release phase).

Every command checks the schema before it starts: that check reads the stamped revision with
one query and compares it with `HEAD`, so Alembic (and its scripts) is loaded only to migrate
or to report — not on each start of a one-line command such as `slabot quota`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0019"  # the newest migration (tests check it is Alembic's head)


class SchemaBehind(RuntimeError):
    """The database is not at the newest migration."""


def include_object(connection: Connection):
    """Alembic's `include_object` hook for comparing models with `connection`'s database: it
    leaves out what the models create on another database only (`ddl_if(dialect=…)`)."""

    def include(item, _name, _kind, _reflected, _compare_to) -> bool:
        condition = getattr(item, "_ddl_if", None)
        return condition is None or condition.dialect in (None, connection.dialect.name)

    return include


def _config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "storage:migrations")
    # configparser interpolates `%`: escape it, or a URL-encoded password breaks the config
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    return config


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is stamped with (None: never migrated)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to `revision`; returns (revision before, revision after)."""
    from alembic import command

    before = current_revision(engine)
    config = _config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return before, current_revision(engine)


def ensure_current(engine: Engine, *, auto_upgrade: bool) -> None:
    """Upgrade an embedded database in place; refuse to start on a shared one that is behind."""
    if current_revision(engine) == HEAD:
        return
    if auto_upgrade:
        upgrade(engine)
        return
    raise SchemaBehind("the database schema is behind this slabot: run `slabot db upgrade` first")
