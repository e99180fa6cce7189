"""Delivery pauses: a workspace-wide refusal of the bot token (invalid_auth, token_revoked,
account_inactive…) pauses sending instead of failing each message; the pause is kept so every
process (the clock, `/healthz`, `slabot status`) sees it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_pause",
        sa.Column("service", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("service"),
    )


def downgrade() -> None:
    op.drop_table("delivery_pause")
