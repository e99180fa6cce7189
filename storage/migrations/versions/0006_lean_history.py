"""Drop the lead_id indexes of `touch` and `stage_change`: each table's unique constraint
already leads with lead_id, so the second index only cost every import a write.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_stage_change_lead_id", table_name="stage_change")
    op.drop_index("ix_touch_lead_id", table_name="touch")


def downgrade() -> None:
    op.create_index("ix_touch_lead_id", "touch", ["lead_id"])
    op.create_index("ix_stage_change_lead_id", "stage_change", ["lead_id"])
