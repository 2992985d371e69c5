"""What a driver or OS failure means to an operator: `translate_error` turns it into a
one-line `DatabaseError` naming the database without its password; `translated` guards a
block of database work with it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

from pipelines.store.errors import (
    DatabaseError,
    DatabaseReadOnlyError,
    DatabaseUnreachableError,
)
from pipelines.store.urls import normalize_url, shown_url, sqlite_path

__all__ = ["translate_error", "translated"]


def _reason(exc: BaseException) -> str:
    """A short reason from a DBAPI error: the first informative line, lower-cased phrases for
    the common connection failures."""
    orig = getattr(exc, "orig", None) or exc
    msg = str(orig).strip()
    low = msg.lower()
    for needle, reason in (
        ("connection refused", "connection refused"),
        ("password authentication failed", "authentication failed"),
        ("no password supplied", "authentication failed"),
        ("could not translate host name", "unknown host"),
        ("name or service not known", "unknown host"),
        ("timeout expired", "connection timed out"),
        ("timed out", "connection timed out"),
        ("no such file or directory", "no such file or directory"),
    ):
        if needle in low:
            return reason
    m = re.search(r'database "([^"]+)" does not exist', msg)
    if m:
        return f'database "{m.group(1)}" does not exist'
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    line = lines[0] if lines else type(orig).__name__
    line = re.sub(r"^connection failed:\s*", "", line)
    line = re.sub(r'^connection to server at "[^"]*"(?: \([^)]*\))?, port \d+ failed:\s*', "", line)
    return line[:200]


def translate_error(exc: BaseException, url: Engine | str | URL) -> DatabaseError:
    """The `DatabaseError` an operator sees for a driver/SQLAlchemy error on `url`."""
    if isinstance(exc, DatabaseError):
        return exc
    shown = shown_url(url)
    reason = _reason(exc)
    low = str(getattr(exc, "orig", None) or exc).lower()
    if "readonly database" in low or "read-only" in low or "read only" in low:
        return DatabaseReadOnlyError(f"database is read-only: {shown} ({reason})")
    if "unable to open database file" in low:
        why = _sqlite_unwritable(url)
        if why:
            return DatabaseReadOnlyError(f"database is read-only: {shown} ({why})")
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) and _is_connect_error(low):
        return DatabaseUnreachableError(f"database unreachable: {shown} ({reason})")
    if isinstance(exc, OSError):
        return DatabaseUnreachableError(f"database unreachable: {shown} ({exc.strerror or exc})")
    return DatabaseError(f"database error on {shown}: {reason}")


def _sqlite_unwritable(url: Engine | str | URL) -> str | None:
    """Why SQLite could not open a file for writing, when permissions are the cause."""
    try:
        parsed = url.url if isinstance(url, Engine) else normalize_url(url)
    except DatabaseError:
        return None
    path = sqlite_path(parsed) if parsed.get_backend_name() == "sqlite" else None
    if path is None:
        return None
    if path.exists():
        return None if os.access(path, os.W_OK) else "file not writable"
    parent = path.parent
    if parent.is_dir() and not os.access(parent, os.W_OK):
        return f"cannot create the file: directory {parent} not writable"
    return None


def _is_connect_error(low: str) -> bool:
    return any(
        s in low
        for s in (
            "unable to open database file",
            "connection",
            "could not translate host name",
            "does not exist",
            "authentication failed",
            "timeout",
            "server closed",
            "no such host",
            "is not a database",
            "disk i/o error",
        )
    )


@contextmanager
def translated(url: Engine | str | URL) -> Iterator[None]:
    """Re-raise SQLAlchemy and OS errors inside the block as `translate_error` says."""
    try:
        yield
    except DatabaseError:
        raise
    except (sa_exc.SQLAlchemyError, OSError) as exc:
        raise translate_error(exc, url) from exc
