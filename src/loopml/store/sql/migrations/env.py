"""Alembic environment: always runs on a connection handed over by loopml."""

from __future__ import annotations

from alembic import context

from loopml.store.sql.migration import VERSION_TABLE
from loopml.store.sql.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
