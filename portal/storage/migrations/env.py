"""Alembic environment. Runs on a connection handed over by ``portal.storage.migrate``."""

from __future__ import annotations

from alembic import context

from portal.storage.migrate import include_name
from portal.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `portal migrate`, which supplies the connection.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
