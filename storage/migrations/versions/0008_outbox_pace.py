"""The clock paces alert sends by counting those started in the last minute.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_claimed", "outbox", ["claimed_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_claimed", table_name="outbox")
