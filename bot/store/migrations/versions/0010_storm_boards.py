"""storm_boards, storm_groups, storm_members: a storm's cause groups in the store.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "storm_boards",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("parent_ts", sa.String(32), nullable=False),
        sa.Column("incident_id", sa.String(64), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.String(32), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("shown_version", sa.Integer(), nullable=False),
        sa.Column("shown_members", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel", "parent_ts", name="uq_storm_board"),
    )
    op.create_index("ix_storm_boards_updated_at", "storm_boards", ["updated_at"])
    op.create_table(
        "storm_groups",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "board_id", sa.String(64), sa.ForeignKey("storm_boards.id"), nullable=False
        ),
        sa.Column("key_digest", sa.String(64), nullable=False),
        sa.Column("root_cause", sa.String(64), nullable=False),
        sa.Column("check_id", sa.String(255), nullable=False),
        sa.Column("confidence", sa.String(16), nullable=True),
        sa.Column("hosts", sa.JSON(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("example_run_id", sa.String(64), nullable=True),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("shown", sa.Integer(), nullable=False),
        sa.Column("listed", sa.Integer(), nullable=False),
        sa.Column("reply_ts", sa.String(32), nullable=True),
        sa.Column("reply_owner", sa.String(64), nullable=True),
        sa.Column("reply_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("board_id", "key_digest", name="uq_storm_group_key"),
    )
    op.create_table(
        "storm_members",
        sa.Column(
            "board_id",
            sa.String(64),
            sa.ForeignKey("storm_boards.id"),
            primary_key=True,
        ),
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column(
            "group_id", sa.String(64), sa.ForeignKey("storm_groups.id"), nullable=False
        ),
        sa.Column("label", sa.String(300), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_storm_members_group", "storm_members", ["group_id", "added_at"])


def downgrade() -> None:
    op.drop_index("ix_storm_members_group", "storm_members")
    op.drop_table("storm_members")
    op.drop_table("storm_groups")
    op.drop_index("ix_storm_boards_updated_at", "storm_boards")
    op.drop_table("storm_boards")
