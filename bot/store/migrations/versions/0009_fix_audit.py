"""fix_audit: every fix the bot ran (or refused) from a button: who, what, when, result.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fix_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("cases.id"), nullable=False),
        # the button's one-time token: a second click finds this row and runs nothing
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
    )
    op.create_index("ix_fix_audit_case_id", "fix_audit", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_fix_audit_case_id", "fix_audit")
    op.drop_table("fix_audit")
