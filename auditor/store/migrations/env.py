"""Alembic's entry point: migrate the connection the store hands over, in its transaction.

There is no alembic.ini: ``auditor.store.migrate`` configures Alembic in
code and passes an open connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from auditor.store import metadata

connection = context.config.attributes["connection"]
if connection.dialect.name == "postgresql":  # two hosts upgrading at once: one waits for the other
    connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('auditor schema'))"))
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite changes a column by copying its table
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
