"""Covering indexes for the stand-up digest's figures.

Each stage's count per source over a time range, the MQL→SQL cohort, recycle reasons and the
first-touch figures are answered from an index alone. The single-column time indexes on
`mql_at` and `sql_at` are replaced by these (they lead with the same column).

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
    with op.batch_alter_table("lead") as batch_op:
        batch_op.drop_index("ix_lead_mql_at")
        batch_op.drop_index("ix_lead_sql_at")
    op.create_index("ix_lead_mql", "lead", ["mql_at", "source", "sql_at"])
    op.create_index("ix_lead_sql", "lead", ["sql_at", "source"])
    op.create_index("ix_lead_recycled", "lead", ["recycled_at", "source", "recycle_reason"])
    op.create_index(
        "ix_sla_clock_settled", "sla_clock", ["rule", "met_at", "status", "took_minutes"]
    )
    op.create_index("ix_sla_clock_open_due", "sla_clock", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_sla_clock_open_due", table_name="sla_clock")
    op.drop_index("ix_sla_clock_settled", table_name="sla_clock")
    op.drop_index("ix_lead_recycled", table_name="lead")
    op.drop_index("ix_lead_sql", table_name="lead")
    op.drop_index("ix_lead_mql", table_name="lead")
    op.create_index("ix_lead_sql_at", "lead", ["sql_at"])
    op.create_index("ix_lead_mql_at", "lead", ["mql_at"])
