"""The clock: its heartbeat (for `/healthz`), and an index for pacing alert sends by counting
those started in the last minute.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_claimed", "outbox", ["claimed_at"])
    op.create_table(
        "clock_beat",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("every_s", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scan_seconds", sa.Float(), nullable=True),
        sa.Column("digest_seconds", sa.Float(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("clock_beat")
    op.drop_index("ix_outbox_claimed", table_name="outbox")
