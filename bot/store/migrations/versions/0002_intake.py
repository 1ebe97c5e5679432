"""Intake: dedupe keys, intake state of cases, incidents, poller watermark, dead letters.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dedupe_keys",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("first_seen", _TS, nullable=False),
        sa.Column("last_seen", _TS, nullable=False),
        sa.Column("sources", sa.JSON, nullable=False),
    )
    op.create_index("ix_dedupe_keys_case_id", "dedupe_keys", ["case_id"])
    op.create_table(
        "intake_cases",
        sa.Column(
            "case_id", sa.String(64), sa.ForeignKey("cases.id"), primary_key=True
        ),
        sa.Column("primary_key", sa.String(255), nullable=False),
        sa.Column("instance_uuid", sa.String(64)),
        sa.Column("migration", sa.String(64)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("kind", sa.String(32)),
        sa.Column("source_host", sa.String(255)),
        sa.Column("dest_host", sa.String(255)),
        sa.Column("availability_zone", sa.String(255)),
        sa.Column("aggregate", sa.String(255)),
        sa.Column("error", sa.Text),
        sa.Column("occurred_at", _TS),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(64)),
        sa.Column("lease_until", _TS),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("channel", sa.String(32)),
        sa.Column("incident_id", sa.String(64)),
        sa.Column("report", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("posted_at", _TS),
    )
    op.create_index("ix_intake_cases_instance_uuid", "intake_cases", ["instance_uuid"])
    op.create_index("ix_intake_cases_source_host", "intake_cases", ["source_host"])
    op.create_index("ix_intake_cases_status", "intake_cases", ["status"])
    op.create_index("ix_intake_cases_created_at", "intake_cases", ["created_at"])
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("parent_ts", sa.String(32)),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("opened_at", _TS, nullable=False),
        sa.Column("last_at", _TS, nullable=False),
        sa.Column("closed_at", _TS),
    )
    op.create_index(
        "ux_incidents_open_key",
        "incidents",
        ["key"],
        unique=True,
        postgresql_where=sa.text("closed_at IS NULL"),
        sqlite_where=sa.text("closed_at IS NULL"),
    )
    op.create_table(
        "incident_members",
        sa.Column(
            "incident_id",
            sa.String(64),
            sa.ForeignKey("incidents.id"),
            primary_key=True,
        ),
        sa.Column(
            "case_id", sa.String(64), sa.ForeignKey("cases.id"), primary_key=True
        ),
        sa.Column("added_at", _TS, nullable=False),
    )
    op.create_table(
        "poller_watermark",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("watermark", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("at", _TS, nullable=False),
    )
    op.create_index("ix_dead_letters_at", "dead_letters", ["at"])


def downgrade() -> None:
    op.drop_table("dead_letters")
    op.drop_table("poller_watermark")
    op.drop_table("incident_members")
    op.drop_table("incidents")
    op.drop_table("intake_cases")
    op.drop_table("dedupe_keys")
