"""Two partial indexes for what people wait on. The open clocks by when they warn: a busy scan
reads the queue lines of the clocks already told among the open ones, not every open clock of
every owner it tells. The handed-off leads nobody owns or has worked, by MQL date: the digest
counts the routing's breaches without reading every lead.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'open'")
UNOWNED_OPEN = sa.text(
    "owner_email IS NULL AND first_touch_at IS NULL AND sal_at IS NULL AND sql_at IS NULL "
    "AND opportunity_at IS NULL AND recycled_at IS NULL AND closed_at IS NULL"
)


def upgrade() -> None:
    op.create_index(
        "ix_sla_clock_open_warn", "sla_clock", ["warn_at"], sqlite_where=OPEN, postgresql_where=OPEN
    )
    op.create_index(
        "ix_lead_unowned_open",
        "lead",
        ["mql_at"],
        sqlite_where=UNOWNED_OPEN,
        postgresql_where=UNOWNED_OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_lead_unowned_open", table_name="lead")
    op.drop_index("ix_sla_clock_open_warn", table_name="sla_clock")
