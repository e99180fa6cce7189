"""The won leads, indexed: their MQL-to-won days are the sales cycle `/quota` measures when
the agreement sets none, without reading every lead.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_lead_won",
        "lead",
        ["closed_at"],
        sqlite_where=sa.text("outcome = 'won'"),
        postgresql_where=sa.text("outcome = 'won'"),
    )


def downgrade() -> None:
    op.drop_index("ix_lead_won", "lead")
