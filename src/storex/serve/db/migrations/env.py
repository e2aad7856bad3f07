"""Alembic environment: runs on the connection that ``upgrade_database`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import func, select

from storex.errors import ConfigError
from storex.serve.db.models import Base

# Any fixed number: concurrent upgrades of one PostgreSQL database queue on it.
_PG_LOCK_KEY = 7_135_024_811


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise ConfigError("migrations run only through storex.serve.db.upgrade_database")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
        context.run_migrations()


run_migrations()
