"""The held clocks: open, and waiting past their warning because they were told as far as
they have reached or snoozed. A busy scan reads the queue lines beside its news from this
index, as many as are held, instead of every open clock. It replaces the open clocks' warning
index (0018), made for that read: PostgreSQL never chose it (it counts `warn_at <= now` over
every clock, met ones included) and on SQLite it read every open clock that had warned.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

HELD = sa.text("status = 'open' AND (next_at IS NULL OR next_at > warn_at)")
OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_index(
        "ix_sla_clock_held", "sla_clock", ["lead_id"], sqlite_where=HELD, postgresql_where=HELD
    )
    op.drop_index("ix_sla_clock_open_warn", table_name="sla_clock")


def downgrade() -> None:
    op.create_index(
        "ix_sla_clock_open_warn", "sla_clock", ["warn_at"], sqlite_where=OPEN, postgresql_where=OPEN
    )
    op.drop_index("ix_sla_clock_held", table_name="sla_clock")
