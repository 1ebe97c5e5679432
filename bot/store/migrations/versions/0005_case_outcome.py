"""case_resolutions and case_events: a case's resolution and its timeline.

Revision ID: 0005
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_resolutions",
        sa.Column(
            "case_id", sa.String(64), sa.ForeignKey("cases.id"), primary_key=True
        ),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("via", sa.String(32), nullable=False),
        sa.Column("migration_id", sa.String(64), nullable=True),
        sa.Column("source_host", sa.String(255), nullable=True),
        sa.Column("dest_host", sa.String(255), nullable=True),
    )
    op.create_index("ix_case_resolutions_resolved", "case_resolutions", ["resolved"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_events_case_id", "case_events")
    op.drop_table("case_events")
    op.drop_index("ix_case_resolutions_resolved", "case_resolutions")
    op.drop_table("case_resolutions")
