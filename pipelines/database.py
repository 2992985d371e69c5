"""The relational store: engines from URLs, schema checks and upgrades, `RecordStore` (the one
writer of records, used by the crawl and by `reindex`), search, and `DatabasePipeline`.

Alembic owns the schema: nothing here calls `create_all()`. Errors that an operator must act
on surface as `DatabaseError` subclasses whose message is one line, names the database
without its password, and carries no traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Engine,
    create_engine,
    event,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

CHINA = timezone(timedelta(hours=8), "CST")  # the site's dates are China time (UTC+8)
SQLITE_BUSY_TIMEOUT_MS = 10_000  # a reader (export) never makes the crawl's writer fail


# --------------------------------------------------------------------------- errors


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


def redact_url(url: str | URL) -> str:
    """The URL without its password (and without the `+driver` part), for messages."""
    if isinstance(url, URL):
        return url.set(drivername=url.get_backend_name(), password=None).render_as_string(
            hide_password=False
        )
    try:
        return redact_url(make_url(url))
    except Exception:  # noqa: BLE001 - unparseable: strip anything that looks like a password
        return re.sub(r"(://[^:/@\s]*):[^@/\s]*@", r"\1@", str(url))


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


def translate_error(exc: BaseException, url: str | URL) -> DatabaseError:
    """The `DatabaseError` an operator sees for a driver/SQLAlchemy error on `url`."""
    if isinstance(exc, DatabaseError):
        return exc
    shown = redact_url(url)
    reason = _reason(exc)
    low = str(getattr(exc, "orig", None) or exc).lower()
    if "readonly database" in low or "read-only" in low or "read only" in low:
        return DatabaseReadOnlyError(f"database is read-only: {shown} ({reason})")
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) and _is_connect_error(low):
        return DatabaseUnreachableError(f"database unreachable: {shown} ({reason})")
    if isinstance(exc, OSError):
        return DatabaseUnreachableError(f"database unreachable: {shown} ({exc.strerror or exc})")
    return DatabaseError(f"database error on {shown}: {reason}")


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


# --------------------------------------------------------------------------- engines


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


def _sqlite_path(url: URL) -> Path | None:
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for `url`, configured for the store.

    SQLite: the parent directory is created; every connection runs in WAL mode (readers do
    not block the crawl's writer), waits on locks instead of failing, enforces foreign keys,
    and uses real transactions (BEGIN is emitted by SQLAlchemy, not guessed by pysqlite), so
    a batch and a migration are atomic. `?mode=ro` opens the file read-only.
    PostgreSQL: psycopg 3, pre-ping.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("connect_timeout", 10)
    connect_args.setdefault("application_name", "dgarchive")
    return create_engine(parsed, connect_args=connect_args, **kwargs)


def _sqlite_engine(parsed: URL, **kwargs: Any) -> Engine:
    query = dict(parsed.query)
    mode = query.pop("mode", None)
    path = _sqlite_path(parsed)
    if path is not None and mode != "ro":
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
                f" {redact_url(parsed)} (cannot create {path.parent}: {exc.strerror})"
            ) from None
    if mode is not None and path is not None:
        # pysqlite only honours mode= in a file: URI.
        parsed = parsed.set(
            database=f"file:{path.resolve().as_posix()}?mode={mode}", query={"uri": "true"}
        )
    connect_args = kwargs.pop("connect_args", {})
    # The pool hands a connection to one thread at a time; the pipeline writes from a worker.
    connect_args.setdefault("check_same_thread", False)
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see "begin")
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys = ON")
            try:
                cur.execute("PRAGMA journal_mode = WAL")
            except Exception as exc:  # noqa: BLE001 - a read-only file cannot switch modes
                if "readonly" not in str(exc).lower() and "read-only" not in str(exc).lower():
                    raise
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        conn.exec_driver_sql("BEGIN")

    return engine


@contextmanager
def _translated(url: str | URL) -> Iterator[None]:
    try:
        yield
    except DatabaseError:
        raise
    except (sa_exc.SQLAlchemyError, OSError) as exc:
        raise translate_error(exc, url) from exc


# --------------------------------------------------------------------------- schema


def _alembic_config(connection=None) -> Config:  # noqa: ANN001
    from alembic.config import Config

    here = resources.files("migrations")
    cfg = Config(str(here.joinpath("alembic.ini")))
    cfg.set_main_option("script_location", str(here))
    cfg.attributes["configure_logger"] = False
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def _script_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(all revision ids, head ids) known to this code."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    revs = frozenset(r.revision for r in script.walk_revisions())
    return revs, frozenset(script.get_heads())


def head_revision() -> str:
    return ",".join(sorted(_script_revisions()[1]))


def _engine_of(url_or_engine: str | URL | Engine) -> tuple[Engine, bool]:
    if isinstance(url_or_engine, Engine):
        return url_or_engine, False
    return make_engine(url_or_engine), True


def _db_revisions(connection) -> set[str]:  # noqa: ANN001
    from alembic.runtime.migration import MigrationContext

    return set(MigrationContext.configure(connection).get_current_heads())


def schema_state(engine: Engine) -> str:
    """`"empty"` (no migration applied), `"current"` (at head), `"behind"` (an older
    revision of this code) or `"ahead"` (a revision this code does not know: a newer
    dgarchive migrated it)."""
    with _translated(engine.url), engine.connect() as conn:
        current = _db_revisions(conn)
    known, heads = _script_revisions()
    if not current:
        return "empty"
    if current - known:
        return "ahead"
    return "current" if current == set(heads) else "behind"


def upgrade(url_or_engine: str | URL | Engine, revision: str = "head") -> None:
    """Migrate the database to `revision` (head). Refuses a schema newer than this code."""
    engine, owned = _engine_of(url_or_engine)
    try:
        if schema_state(engine) == "ahead":
            raise _too_new(engine)
        from alembic import command

        with _translated(engine.url), engine.begin() as conn:
            command.upgrade(_alembic_config(conn), revision)
    finally:
        if owned:
            engine.dispose()


def downgrade(url_or_engine: str | URL | Engine, revision: str = "base") -> None:
    """Migrate the database down to `revision` (for development and tests)."""
    engine, owned = _engine_of(url_or_engine)
    try:
        from alembic import command

        with _translated(engine.url), engine.begin() as conn:
            command.downgrade(_alembic_config(conn), revision)
    finally:
        if owned:
            engine.dispose()


def check_models(url_or_engine: str | URL | Engine) -> None:
    """`alembic check`: raise if the models and the migrated database disagree."""
    engine, owned = _engine_of(url_or_engine)
    try:
        from alembic import command

        with engine.connect() as conn:
            command.check(_alembic_config(conn))
    finally:
        if owned:
            engine.dispose()


def _too_new(engine: Engine) -> SchemaTooNewError:
    with engine.connect() as conn:
        current = ",".join(sorted(_db_revisions(conn)))
    return SchemaTooNewError(
        f"database schema is newer than this dgarchive: {redact_url(engine.url)} is at "
        f"revision {current}, this code knows up to {head_revision()}; upgrade dgarchive"
    )


def ensure_schema(engine: Engine) -> str:
    """Bring the schema to head before a crawl; returns the state found.

    empty or behind: upgrade; current: nothing; ahead: `SchemaTooNewError`.
    """
    state = schema_state(engine)
    if state == "ahead":
        raise _too_new(engine)
    if state in ("empty", "behind"):
        upgrade(engine)
    return state


def check_database(url: str | URL) -> None:
    """Pre-flight check before a crawl: the URL parses, the database answers, its schema is
    not newer than this code, and it accepts writes. Raises a `DatabaseError` subclass.

    Nothing is changed: the write probe is rolled back (an empty SQLite file may be created).
    """
    engine = make_engine(url)
    try:
        state = schema_state(engine)
        if state == "ahead":
            raise _too_new(engine)
        _probe_write(engine, state)
    finally:
        engine.dispose()


def _probe_write(engine: Engine, state: str) -> None:
    with _translated(engine.url), engine.connect() as conn:
        trans = conn.begin()
        try:
            if state == "empty":
                if conn.dialect.name == "postgresql":
                    ro = conn.exec_driver_sql("SHOW transaction_read_only").scalar()
                    if ro == "on":
                        raise DatabaseReadOnlyError(
                            f"database is read-only: {redact_url(engine.url)} "
                            "(transaction_read_only is on)"
                        )
                conn.exec_driver_sql("CREATE TABLE dgarchive_write_probe (x INTEGER)")
            else:
                conn.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")
        finally:
            trans.rollback()
