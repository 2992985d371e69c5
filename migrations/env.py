"""Alembic environment: runs the migrations in versions/ against one database.

Stock layout. Two ways in: `alembic upgrade head` from the repository root, or
`pipelines.store.upgrade()`, which hands over an open connection in
`config.attributes["connection"]`. From the command line the URL is, first found: `-x db=URL`,
`DGARCHIVE_DB` (as for `dgarchive`), `sqlalchemy.url` in alembic.ini, else the default
`./dgarchive.sqlite` -- the same database `dgarchive` would use.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import TYPE_CHECKING, Any

from alembic import context

# Only the store's bottom layers: the store finds this directory by path and never imports it.
from pipelines.store.engine import make_engine, migrating
from pipelines.store.models import FTS_TABLE, SEARCH_INDEXES, VIEWS, Base, UTCDateTime
from pipelines.store.urls import default_db_url

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext
    from alembic.runtime.environment import NameFilterType
    from sqlalchemy.engine import Connection
    from sqlalchemy.schema import SchemaItem

config = context.config

# The command line configures logging from the ini file; a programmatic upgrade inside a
# crawl must not reset the crawl's own logging.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def include_object(
    obj: SchemaItem,
    name: str | None,
    type_: NameFilterType,
    reflected: bool,
    compare_to: SchemaItem | None,
) -> bool:
    """Leave out what the migrations create by hand and the models do not describe: the
    views, the SQLite FTS5 tables and their shadow tables, the PostgreSQL trigram indexes, the
    search indexes of migration 0003."""
    if type_ == "table" and name and (name in VIEWS or name.startswith(FTS_TABLE)):
        return False
    if type_ == "index" and name and (name.startswith("trgm_") or name in SEARCH_INDEXES):
        return False
    return True


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render the store's UTC timestamp type as the plain column type it stores."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        include_object=include_object,
        render_item=render_item,
        compare_type=True,
        **kwargs,
    )


def _url() -> str:
    return (
        context.get_x_argument(as_dictionary=True).get("db")
        or os.environ.get("DGARCHIVE_DB")
        or config.get_main_option("sqlalchemy.url")
        or default_db_url(os.getcwd())
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with migrating(engine) as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode recreates the table.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
