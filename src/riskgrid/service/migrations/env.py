"""Alembic environment: runs on the connection the service hands over (see db.migrate)."""

from __future__ import annotations

from alembic import context

from riskgrid.service.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable from the alembic CLI
    raise RuntimeError("run migrations through riskgrid.service.db.migrate")
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
