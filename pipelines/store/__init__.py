"""The relational store, usable without Scrapy: models, engines, schema checks, writing, reading
and search. Never imports `crawler/` or `migrations/` (the migrations are found by path).

Modules, lowest first: `errors`, `urls`, `failures`, `engine`, `declarative`,
`interview_tables`, `models`, `schema`, `transforms`, `conflicts`, `labels`, `batch`, `reader`,
`runs`, `status`, `writer`, `search`. The names below are the public API; import them from here.
"""

from __future__ import annotations

from pipelines.store.engine import SQLITE_BUSY_TIMEOUT_MS, make_engine
from pipelines.store.errors import (
    BadDatabaseUrlError,
    DatabaseError,
    DatabaseReadOnlyError,
    DatabaseUnreachableError,
    SchemaTooNewError,
)
from pipelines.store.failures import translate_error, translated
from pipelines.store.labels import ColumnLike, SiteLabels, TownLike
from pipelines.store.schema import (
    check_database,
    check_models,
    downgrade,
    ensure_schema,
    head_revision,
    migrations_dir,
    schema_state,
    schema_too_new_error,
    upgrade,
)
from pipelines.store.search import SEARCHABLE, search
from pipelines.store.transforms import (
    CHINA,
    NOT_CONTENT,
    capture_record,
    column_path_of,
    content_hash,
    iso_china,
    iso_utc,
    validate_record,
    version_record,
)
from pipelines.store.urls import (
    default_db_url,
    normalize_url,
    redact_url,
    shown_url,
    sqlite_file,
)
from pipelines.store.writer import RecordStore
from pipelines.text import to_simplified

__all__ = [
    "CHINA",
    "NOT_CONTENT",
    "SEARCHABLE",
    "SQLITE_BUSY_TIMEOUT_MS",
    "BadDatabaseUrlError",
    "ColumnLike",
    "DatabaseError",
    "DatabaseReadOnlyError",
    "DatabaseUnreachableError",
    "RecordStore",
    "SchemaTooNewError",
    "SiteLabels",
    "TownLike",
    "capture_record",
    "check_database",
    "check_models",
    "column_path_of",
    "content_hash",
    "default_db_url",
    "downgrade",
    "ensure_schema",
    "head_revision",
    "iso_china",
    "iso_utc",
    "make_engine",
    "migrations_dir",
    "normalize_url",
    "redact_url",
    "schema_state",
    "schema_too_new_error",
    "search",
    "shown_url",
    "sqlite_file",
    "to_simplified",
    "translate_error",
    "translated",
    "upgrade",
    "validate_record",
    "version_record",
]
