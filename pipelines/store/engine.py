"""Engines from database URLs, configured for the store: SQLite PRAGMAs (WAL, busy timeout,
foreign keys, real transactions), read-only, immutable and must-exist opening; psycopg 3 for
PostgreSQL; the connection migrations run on (SQLite: foreign keys off while tables are
rebuilt)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL

from pipelines.store.errors import DatabaseReadOnlyError, DatabaseUnreachableError
from pipelines.store.urls import name_engine, normalize_url, redact_url, sqlite_path

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "make_engine", "migrating"]

SQLITE_BUSY_TIMEOUT_MS = 10_000  # a reader (export) never makes the crawl's writer fail


def make_engine(url: str | URL, *, must_exist: bool = False, **kwargs: Any) -> Engine:
    """An engine for `url`, configured for the store.

    SQLite: the parent directory is created; every connection runs in WAL mode (readers do
    not block the crawl's writer), waits on locks instead of failing, enforces foreign keys,
    and uses real transactions (BEGIN is emitted by SQLAlchemy, not guessed by pysqlite), so
    a batch and a migration are atomic. `?mode=ro` opens the file read-only. With
    `must_exist` (readers such as export) a missing file is `DatabaseUnreachableError`
    instead of a new empty database.
    PostgreSQL: psycopg 3, pre-ping.
    """
    parsed = normalize_url(url)
    shown = redact_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if must_exist and path is not None and not path.is_file():
            raise DatabaseUnreachableError(f"database unreachable: {shown} (no such file)")
        engine = _sqlite_engine(parsed, shown, **kwargs)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("connect_timeout", 10)
        connect_args.setdefault("application_name", "dgarchive")
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    name_engine(engine, shown)
    return engine


def _sqlite_engine(parsed: URL, shown: str, **kwargs: Any) -> Engine:
    query = dict(parsed.query)
    mode = query.pop("mode", None)
    immutable = query.pop("immutable", None)  # a copy nobody writes: no locks, no -shm
    path = sqlite_path(parsed)
    if path is not None and mode != "ro" and not immutable:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            cls = (
                DatabaseReadOnlyError
                if isinstance(exc, PermissionError)
                else (DatabaseUnreachableError)
            )
            raise cls(
                f"database {'is read-only' if cls is DatabaseReadOnlyError else 'unreachable'}:"
                f" {shown} (cannot create {path.parent}: {exc.strerror})"
            ) from None
    if (mode is not None or immutable is not None) and path is not None:
        # pysqlite only honours mode= and immutable= in a file: URI.
        params = "&".join(
            f"{k}={v}" for k, v in (("mode", mode), ("immutable", immutable)) if v is not None
        )
        parsed = parsed.set(
            database=f"file:{path.resolve().as_posix()}?{params}", query={"uri": "true"}
        )
    connect_args = kwargs.pop("connect_args", {})
    # The pool hands a connection to one thread at a time; the pipeline writes from a worker.
    connect_args.setdefault("check_same_thread", False)
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see "begin")
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys = ON")
            try:
                cur.execute("PRAGMA journal_mode = WAL")
            except Exception as exc:
                if "readonly" not in str(exc).lower() and "read-only" not in str(exc).lower():
                    raise
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


@contextmanager
def migrating(engine: Engine) -> Iterator[Any]:
    """A connection in a transaction for migrations. SQLite: with foreign keys off, as its
    documented table-rebuild procedure requires (batch mode drops and recreates tables that
    others refer to), checked with `foreign_key_check` before the commit and on again after."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # outside any transaction, or SQLite ignores it
            conn.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise RuntimeError(f"migration broke a foreign key: {tuple(broken)}")
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys = ON")
