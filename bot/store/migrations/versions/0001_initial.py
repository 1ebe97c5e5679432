"""Cases, runs and escalations.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("vm_id", sa.String(64)),
        sa.Column("vm_name", sa.String(255), nullable=False),
        sa.Column("migration_id", sa.String(64)),
        sa.Column("target_host", sa.String(255)),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("parent_ts", sa.String(32)),
        sa.Column("thread_ts", sa.String(32)),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(32)),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("diagnosis", sa.JSON, nullable=False),
        sa.Column("verdict", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_runs_case_id", "runs", ["case_id"])
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("dedup_key", sa.String(255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
    )
    op.create_index("ix_escalations_case_id", "escalations", ["case_id"])


def downgrade() -> None:
    op.drop_table("escalations")
    op.drop_table("runs")
    op.drop_table("cases")
