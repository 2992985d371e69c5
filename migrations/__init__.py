"""Alembic migrations: the only owner of the dgarchive schema (env.py, versions/)."""
