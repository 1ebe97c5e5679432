"""intake_cases.attempts and .reason: a failed post is retried with backoff, up to a cap,
and a case that cannot be posted ends in status ``failed`` with the reason.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_cases") as batch:
        batch.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intake_cases") as batch:
        batch.drop_column("reason")
        batch.drop_column("attempts")
