"""Indexes for the stand-up digest's figures.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_lead_recycled_at", "lead", ["recycled_at"])
    op.create_index("ix_sla_clock_settled", "sla_clock", ["rule", "met_at"])
    op.create_index("ix_sla_clock_open_due", "sla_clock", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_sla_clock_open_due", table_name="sla_clock")
    op.drop_index("ix_sla_clock_settled", table_name="sla_clock")
    op.drop_index("ix_lead_recycled_at", table_name="lead")
