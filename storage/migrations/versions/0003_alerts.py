"""SLA clocks, the delivery outbox and the Slack identity cache.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _utc(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("lead") as batch_op:
        batch_op.add_column(
            sa.Column("clocks_stale", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(_utc("snoozed_until"))
    op.create_index(
        "ix_lead_clocks_stale",
        "lead",
        ["clocks_stale"],
        sqlite_where=sa.text("clocks_stale"),
        postgresql_where=sa.text("clocks_stale"),
    )
    op.create_table(
        "sla_clock",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("lead_id", sa.Integer(), sa.ForeignKey("lead.id"), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        _utc("starts_at", False),
        _utc("warn_at", False),
        _utc("due_at", False),
        _utc("manager_at", False),
        _utc("channel_at", False),
        _utc("met_at"),
        sa.Column("took_minutes", sa.Float(), nullable=True),
        sa.Column("alerted", sa.Integer(), nullable=False),
        _utc("next_at"),
        sa.UniqueConstraint("lead_id", "rule"),
    )
    op.create_index("ix_sla_clock_next_at", "sla_clock", ["next_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(), nullable=False, unique=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("audience", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("update_of", sa.Integer(), sa.ForeignKey("outbox.id"), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _utc("next_attempt_at", False),
        _utc("claimed_at"),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("ts", sa.String(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        _utc("created_at", False),
        _utc("sent_at"),
    )
    op.create_index("ix_outbox_pending", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "slack_user",
        sa.Column("email", sa.String(), primary_key=True),
        sa.Column("user_id", sa.String(), nullable=False),
        _utc("resolved_at", False),
    )
    op.create_index("ix_slack_user_user_id", "slack_user", ["user_id"])


def downgrade() -> None:
    op.drop_table("slack_user")
    op.drop_table("outbox")
    op.drop_table("sla_clock")
    op.drop_index("ix_lead_clocks_stale", "lead")
    with op.batch_alter_table("lead") as batch_op:
        batch_op.drop_column("snoozed_until")
        batch_op.drop_column("clocks_stale")
