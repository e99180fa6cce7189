"""A partial index of the open SLA clocks: an audience's queue (a scan's DMs, `/sla`) reads the
few thousand open clocks instead of every clock ever kept.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_index(
        "ix_sla_clock_open", "sla_clock", ["lead_id"], sqlite_where=OPEN, postgresql_where=OPEN
    )


def downgrade() -> None:
    op.drop_index("ix_sla_clock_open", table_name="sla_clock")
