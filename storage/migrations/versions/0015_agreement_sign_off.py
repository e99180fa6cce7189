"""The agreement signed in Slack: proposals, the signatories' votes, and who signed each
version (a version from the file has nobody: it was applied without sign-off).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agreement_version") as batch:
        batch.add_column(sa.Column("signed_by", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "agreement_proposal",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("in_force_from", sa.Date(), nullable=False),
        sa.Column("proposed_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("card", sa.Integer(), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=False),
    )
    op.create_table(
        "proposal_vote",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("proposal_id", sa.Integer(), nullable=False, index=True),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("decision", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("proposal_id", "user_id"),
    )


def downgrade() -> None:
    op.drop_table("proposal_vote")
    op.drop_table("agreement_proposal")
    with op.batch_alter_table("agreement_version") as batch:
        batch.drop_column("signed_by")
