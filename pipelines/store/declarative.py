"""The declarative base of the store's models and the conventions it declares them with:
stable constraint names, the enumerations the CHECK constraints enforce, the JSON and UTC
timestamp column types, and the names of the objects the migrations create outside the models.

Timestamps are stored in UTC and come back as timezone-aware datetimes on both engines
(`UTCDateTime`). The tables themselves are `pipelines.store.models`, which re-exports what
`migrations/env.py` needs from here (`Base`, `UTCDateTime`, `VIEWS`, `FTS_TABLE`). Imports
nothing of the project but `validation` (plain tuples), so the migrations may reach it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeEngine

# The enumerations, each enforced by a CHECK constraint below, are declared in `validation`,
# which the crawl process imports without SQLAlchemy.
from pipelines.store.validation import ARTICLE_STATUSES as ARTICLE_STATUSES
from pipelines.store.validation import ROLES as ROLES
from pipelines.store.validation import SCRIPTS as SCRIPTS
from pipelines.store.validation import WARC_TYPES as WARC_TYPES

# Stable constraint names, so migrations can address them on every engine (SQLite batch mode
# needs names to recreate a table) and autogenerate never sees spurious differences.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Objects the migrations create outside the models; `alembic check` must not report them.
VIEWS = ("guest_turns", "interview_overview")
FTS_TABLE = "articles_fts"  # SQLite FTS5 (trigram) index over articles; absent on PostgreSQL
# Search (migration 0003): the SQLite FTS5 bigram index (its name starts with FTS_TABLE), and
# the indexes the models cannot declare on both engines (NULLS LAST, an expression).
BIGRAM_TABLE = "articles_fts_bigrams"
SEARCH_INDEXES = ("ix_articles_search_order", "bigram_articles_simplified")


class JSONOrJSONB(TypeDecorator[Any]):
    """JSON; `jsonb` on PostgreSQL. What `JSON().with_variant(JSONB(), "postgresql")` is,
    but the PostgreSQL dialect (47 ms of imports, its asyncpg support among them) is imported
    only by a process that connects to PostgreSQL, not by every SQLite writer and `reindex`."""

    impl = JSON
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(none_as_null=True)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB(none_as_null=True))
        return super().load_dialect_impl(dialect)  # JSON(none_as_null=True)


# Absent JSON is SQL NULL (not the JSON value `null`), so `WHERE extra IS NULL` means what it
# says; PostgreSQL keeps `jsonb`, which compares, indexes and takes DISTINCT.
JSONValue = JSONOrJSONB()


def one_of(column: str, values: tuple[str, ...]) -> str:
    """The SQL of a CHECK that `column` is NULL or one of `values`."""
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({listed})"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored as UTC.

    PostgreSQL keeps `timestamptz`; SQLite has no timezone type, so values are converted to
    UTC and stored naive, and marked UTC again when read. Naive input is refused: every time
    the crawl handles (WARC-Date, the page's China-time publish date) carries its offset.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps aware timestamps only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}
