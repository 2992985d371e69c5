"""Database URLs: parsing (the one place SQLite and PostgreSQL URLs are read), the database
file of an SQLite URL, and how messages name a database without its password. No I/O."""

from __future__ import annotations

import re
import weakref
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from pipelines.store.errors import BadDatabaseUrlError

__all__ = [
    "default_db_url",
    "name_engine",
    "normalize_url",
    "redact_url",
    "shown_url",
    "sqlite_file",
    "sqlite_path",
]

# Engines by the URL the user gave (the engine's own URL may have been rewritten).
_SHOWN: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()



def shown_url(target: Engine | str | URL) -> str:
    """How messages name a database: the URL as the user gave it, without the password."""
    if isinstance(target, Engine):
        return _SHOWN.get(target) or redact_url(target.url)
    return redact_url(target)


def redact_url(url: str | URL) -> str:
    """The URL without its password (and without the `+driver` part), for messages."""
    if isinstance(url, URL):
        # URL.set(password=None) means "leave unchanged"; the tuple field must be replaced.
        bare = url._replace(drivername=url.get_backend_name(), password=None)
        return bare.render_as_string(hide_password=False)
    try:
        return redact_url(make_url(url))
    except Exception:  # noqa: BLE001 - unparseable: strip anything that looks like a password
        return re.sub(r"(://[^:/@\s]*):[^@/\s]*@", r"\1@", str(url))



def name_engine(engine: Engine, shown: str) -> None:
    """Remember how messages name `engine`: the URL as the user gave it."""
    _SHOWN[engine] = shown


def default_db_url(cwd: str | Path) -> str:
    """The default database: `dgarchive.sqlite` in the working directory."""
    return f"sqlite:///{Path(cwd).resolve() / 'dgarchive.sqlite'}"


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL; `postgres://` and `postgresql://` go through psycopg 3."""
    raw = str(url) if isinstance(url, URL) else url
    if not isinstance(raw, str) or not raw.strip():
        raise BadDatabaseUrlError(
            "malformed database URL '': expected sqlite:///PATH or postgresql://USER@HOST/DB"
        )
    try:
        parsed = url if isinstance(url, URL) else make_url(raw.strip())
    except (sa_exc.ArgumentError, ValueError):
        raise BadDatabaseUrlError(
            f"malformed database URL {redact_url(raw)!r}: expected sqlite:///PATH or "
            "postgresql://USER@HOST/DB"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if driver not in ("", "psycopg"):
            raise BadDatabaseUrlError(
                f"unsupported PostgreSQL driver {driver!r} in {redact_url(parsed)!r}: "
                "use postgresql://"
            )
        try:
            parsed.port  # noqa: B018 - make_url accepts a non-numeric port lazily
        except ValueError:
            raise BadDatabaseUrlError(
                f"malformed database URL {redact_url(raw)!r}: bad port"
            ) from None
        if not parsed.database:
            raise BadDatabaseUrlError(
                f"malformed database URL {redact_url(parsed)!r}: no database name"
            )
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise BadDatabaseUrlError(
                f"unsupported SQLite driver {driver!r} in {redact_url(parsed)!r}: use sqlite:///"
            )
        if parsed.host:
            raise BadDatabaseUrlError(
                f"malformed database URL {redact_url(raw)!r}: a file URL is sqlite:///PATH "
                "(three slashes, four for an absolute path)"
            )
        return parsed.set(drivername="sqlite")
    raise BadDatabaseUrlError(
        f"unsupported database URL {redact_url(raw)!r}: use sqlite:///PATH or "
        "postgresql://USER@HOST/DB"
    )


def sqlite_path(url: URL) -> Path | None:
    """The database file of a parsed SQLite URL; None for memory and `file:` URIs."""
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def sqlite_file(db_url: str | None) -> Path | None:
    """The database file of an SQLite URL, or None for an in-memory, non-SQLite or
    malformed database URL."""
    if not db_url:
        return None
    try:
        parsed = normalize_url(db_url)
    except BadDatabaseUrlError:
        return None
    return sqlite_path(parsed) if parsed.get_backend_name() == "sqlite" else None
