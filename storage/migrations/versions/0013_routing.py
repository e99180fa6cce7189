"""Routing: a lead's changes of hands (`lead_event`), each team's rotation (`routing_turn`),
covers for reps who are away (`cover`), and the rep a covered lead is held for.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lead") as batch:
        batch.add_column(sa.Column("covered_for", sa.String(), nullable=True))
    op.create_index(
        "ix_lead_covered_for",
        "lead",
        ["covered_for"],
        sqlite_where=sa.text("covered_for IS NOT NULL"),
        postgresql_where=sa.text("covered_for IS NOT NULL"),
    )
    op.create_table(
        "lead_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("by", sa.String(), nullable=False),
        sa.Column("from_owner", sa.String(), nullable=True),
        sa.Column("to_owner", sa.String(), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lead_event_lead_id", "lead_event", ["lead_id"])
    op.create_table(
        "routing_turn",
        sa.Column("team", sa.String(), nullable=False),
        sa.Column("turns", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team"),
    )
    op.create_table(
        "cover",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rep_email", sa.String(), nullable=False),
        sa.Column("cover_email", sa.String(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("by", sa.String(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cover_rep_email", "cover", ["rep_email"])


def downgrade() -> None:
    op.drop_index("ix_cover_rep_email", "cover")
    op.drop_table("cover")
    op.drop_table("routing_turn")
    op.drop_index("ix_lead_event_lead_id", "lead_event")
    op.drop_table("lead_event")
    op.drop_index("ix_lead_covered_for", "lead")
    with op.batch_alter_table("lead") as batch:
        batch.drop_column("covered_for")
