"""Real CRM data: the owner as the CRM wrote it, HubSpot property times, history imports,
the log of imports and webhooks, rejected webhook events and Slack profiles; button presses
applied once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _utc(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("lead") as batch_op:
        batch_op.add_column(sa.Column("crm_owner", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("crm_times", sa.JSON(), nullable=True))
        batch_op.add_column(_utc("history_at"))
    op.create_table(
        "ingest_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        _utc("at", False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("source_system", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("unmapped", sa.JSON(), nullable=False),
    )
    op.create_index("ix_ingest_run_at", "ingest_run", ["at"])
    op.create_table(
        "rejected_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        _utc("received_at", False),
        sa.Column("source_system", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("event", sa.JSON(), nullable=True),
    )
    op.create_index("ix_rejected_event_received_at", "rejected_event", ["received_at"])
    op.create_table(
        "slack_profile",
        sa.Column("user_id", sa.String(), primary_key=True),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("real_name", sa.String(), nullable=False),
        _utc("fetched_at", False),
    )
    op.create_index("ix_slack_profile_email", "slack_profile", ["email"])
    op.create_table(
        "applied_action",
        sa.Column("key", sa.String(), primary_key=True),
        _utc("at", False),
    )


def downgrade() -> None:
    op.drop_table("applied_action")
    op.drop_table("slack_profile")
    op.drop_table("rejected_event")
    op.drop_table("ingest_run")
    with op.batch_alter_table("lead") as batch_op:
        batch_op.drop_column("history_at")
        batch_op.drop_column("crm_times")
        batch_op.drop_column("crm_owner")
