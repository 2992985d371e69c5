"""The relational store, usable without Scrapy: models, engines, schema checks, writing, reading
and search. Never imports `crawler/` or `migrations/` (the migrations are found by path).

Modules, lowest first: `errors`, `urls`, `failures`, `engine`, `declarative`,
`interview_tables`, `models`, `schema`, `transforms`, `conflicts`, `labels`, `batch`, `reader`,
`runs`, `status`, `writer`, `search`. The names below are the public API; import them from here.

They load on first use (PEP 562 `__getattr__`): `dgarchive crawl` checks the database
before it starts its writer process, and that check needs SQLAlchemy's engine and the
schema module, not the ORM models, the writer and search, which cost about 0.1 CPU-s
more on the way to the crawl's first request (docs/architecture.md, "Start-up").
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        version_record,
    )
    from pipelines.store.urls import (
        default_db_url,
        normalize_url,
        redact_url,
        shown_url,
        sqlite_file,
    )
    from pipelines.store.validation import validate_record
    from pipelines.store.writer import RecordStore
    from pipelines.text import to_simplified

_HOMES: dict[str, str] = {
    "SQLITE_BUSY_TIMEOUT_MS": "pipelines.store.engine",
    "make_engine": "pipelines.store.engine",
    "BadDatabaseUrlError": "pipelines.store.errors",
    "DatabaseError": "pipelines.store.errors",
    "DatabaseReadOnlyError": "pipelines.store.errors",
    "DatabaseUnreachableError": "pipelines.store.errors",
    "SchemaTooNewError": "pipelines.store.errors",
    "translate_error": "pipelines.store.failures",
    "translated": "pipelines.store.failures",
    "ColumnLike": "pipelines.store.labels",
    "SiteLabels": "pipelines.store.labels",
    "TownLike": "pipelines.store.labels",
    "check_database": "pipelines.store.schema",
    "check_models": "pipelines.store.schema",
    "downgrade": "pipelines.store.schema",
    "ensure_schema": "pipelines.store.schema",
    "head_revision": "pipelines.store.schema",
    "migrations_dir": "pipelines.store.schema",
    "schema_state": "pipelines.store.schema",
    "schema_too_new_error": "pipelines.store.schema",
    "upgrade": "pipelines.store.schema",
    "SEARCHABLE": "pipelines.store.search",
    "search": "pipelines.store.search",
    "CHINA": "pipelines.store.transforms",
    "NOT_CONTENT": "pipelines.store.transforms",
    "capture_record": "pipelines.store.transforms",
    "column_path_of": "pipelines.store.transforms",
    "content_hash": "pipelines.store.transforms",
    "iso_china": "pipelines.store.transforms",
    "iso_utc": "pipelines.store.transforms",
    "validate_record": "pipelines.store.validation",
    "version_record": "pipelines.store.transforms",
    "default_db_url": "pipelines.store.urls",
    "normalize_url": "pipelines.store.urls",
    "redact_url": "pipelines.store.urls",
    "shown_url": "pipelines.store.urls",
    "sqlite_file": "pipelines.store.urls",
    "RecordStore": "pipelines.store.writer",
    "to_simplified": "pipelines.text",
}

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


class _Package(types.ModuleType):
    """The import system binds each submodule, once imported, as an attribute of its package.
    `search` is both a submodule and the API's function; the function keeps the name, as it
    did when this package imported its names eagerly (the submodule stays in sys.modules)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _HOMES:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once: later lookups find it without this hook
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
