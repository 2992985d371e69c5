"""The errors an operator must act on: `DatabaseError` and its kinds. Classes only; what a
driver failure means is decided in `failures.py`."""

from __future__ import annotations

__all__ = [
    "BadDatabaseUrlError",
    "DatabaseError",
    "DatabaseReadOnlyError",
    "DatabaseUnreachableError",
    "SchemaTooNewError",
]


class DatabaseError(Exception):
    """A database problem the operator must fix. `str()` is one line, without secrets."""


class DatabaseUnreachableError(DatabaseError):
    """The server is down, the host or database does not exist, or the file cannot be opened."""


class SchemaTooNewError(DatabaseError):
    """The database was migrated by a newer dgarchive than this one."""


class DatabaseReadOnlyError(DatabaseError):
    """The database (file, directory or server) refuses writes."""


class BadDatabaseUrlError(DatabaseError):
    """The URL cannot be parsed or names an engine dgarchive does not support (a usage error)."""
