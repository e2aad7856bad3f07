"""Alembic migrations of the service database, run by :func:`storex.serve.db.upgrade_database`."""
