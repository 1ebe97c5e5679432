"""cases.state: where a case's diagnosis stands, with a lease while one is running.

``state`` is diagnosing / diagnosed / failed / undeliverable / interrupted; while
diagnosing, ``state_owner`` (a bot process) renews ``state_until``. A case whose lease ran
out (its process died) is taken over and finished by another process, or by the same
deployment when it restarts.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("state", sa.String(16), nullable=True))
        batch.add_column(sa.Column("state_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("state_owner", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("state_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch.create_index("ix_cases_state", ["state"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_state")
        for column in ("state_until", "state_owner", "state_reason", "state"):
            batch.drop_column(column)
