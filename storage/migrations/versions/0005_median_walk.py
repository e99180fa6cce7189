"""SQLite's exact median of first-touch times walks an index in time-taken order.

PostgreSQL computes the median with percentile_cont and has no use for it, so the index is
created on SQLite only.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _on_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _on_sqlite():
        op.create_index(
            "ix_sla_clock_took", "sla_clock", ["rule", "took_minutes", "met_at", "lead_id"]
        )


def downgrade() -> None:
    if _on_sqlite():
        op.drop_index("ix_sla_clock_took", table_name="sla_clock")
