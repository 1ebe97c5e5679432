"""Alembic environment: run only programmatically, on the connection Store.open hands over."""

from __future__ import annotations

from alembic import context

from bot.store.models import Base  # intake adds its tables in revision 0002

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "migrations run through bot.store.Store.open(url), not the alembic CLI"
    )

# batch mode lets SQLite alter tables in later revisions
context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=True
)
with context.begin_transaction():
    context.run_migrations()
