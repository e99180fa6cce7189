"""Alembic environment: run against the connection slabot hands over (see storage/migrate.py)."""

from alembic import context
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.migrate import include_object

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` command line: build an engine from the URL in the config
    from storage.db import make_engine

    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("alembic: set sqlalchemy.url (or run `slabot db upgrade`)")
    connection = make_engine(url).connect()

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=include_object(connection),
)
with context.begin_transaction():
    context.run_migrations()
