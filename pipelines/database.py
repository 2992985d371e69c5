"""The relational store: engines from URLs, schema checks and upgrades, `RecordStore` (the one
writer of records, used by the crawl and by `reindex`), search, and `DatabasePipeline`.

Alembic owns the schema: nothing here calls `create_all()`. Errors that an operator must act
on surface as `DatabaseError` subclasses whose message is one line, names the database
without its password, and carries no traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import sys
import threading
import unicodedata
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    BrokenExecutor,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
)
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Engine,
    Integer,
    column,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, selectinload

from pipelines.models import (
    FTS_TABLE,
    Anomaly,
    Article,
    ArticleVersion,
    Capture,
    CrawlRun,
    Image,
    Interview,
    InterviewGuest,
    InterviewSection,
    InterviewTurn,
    Person,
    SiteColumn,
    Town,
)

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "BadDatabaseUrlError",
    "DatabaseError",
    "DatabasePipeline",
    "DatabaseReadOnlyError",
    "DatabaseUnreachableError",
    "RecordStore",
    "SchemaTooNewError",
    "check_database",
    "content_hash",
    "default_db_url",
    "downgrade",
    "ensure_schema",
    "make_engine",
    "redact_url",
    "schema_state",
    "search",
    "to_simplified",
    "upgrade",
]

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
    path = _sqlite_path(parsed) if parsed.get_backend_name() == "sqlite" else None
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
        path = _sqlite_path(parsed)
        if must_exist and path is not None and not path.is_file():
            raise DatabaseUnreachableError(f"database unreachable: {shown} (no such file)")
        engine = _sqlite_engine(parsed, shown, **kwargs)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("connect_timeout", 10)
        connect_args.setdefault("application_name", "dgarchive")
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    _SHOWN[engine] = shown
    return engine


def _sqlite_engine(parsed: URL, shown: str, **kwargs: Any) -> Engine:
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
                f" {shown} (cannot create {path.parent}: {exc.strerror})"
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
def _translated(url: Engine | str | URL) -> Iterator[None]:
    try:
        yield
    except DatabaseError:
        raise
    except (sa_exc.SQLAlchemyError, OSError) as exc:
        raise translate_error(exc, url) from exc


# --------------------------------------------------------------------------- schema


def migrations_dir() -> Path:
    """The installed `migrations` package directory (env.py, versions/, alembic.ini)."""
    import migrations

    # __path__, not importlib.resources: an editable install may expose the package as a
    # namespace, which resources cannot open.
    return Path(next(iter(migrations.__path__)))


def _alembic_config(connection=None) -> Config:  # noqa: ANN001
    from alembic.config import Config

    here = migrations_dir()
    cfg = Config(str(here / "alembic.ini"))
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
    with _translated(engine), engine.connect() as conn:
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
            raise schema_too_new_error(engine)
        from alembic import command

        with _translated(engine), engine.begin() as conn:
            command.upgrade(_alembic_config(conn), revision)
    finally:
        if owned:
            engine.dispose()


def downgrade(url_or_engine: str | URL | Engine, revision: str = "base") -> None:
    """Migrate the database down to `revision` (for development and tests)."""
    engine, owned = _engine_of(url_or_engine)
    try:
        from alembic import command

        with _translated(engine), engine.begin() as conn:
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


def schema_too_new_error(engine: Engine) -> SchemaTooNewError:
    with engine.connect() as conn:
        current = ",".join(sorted(_db_revisions(conn)))
    return SchemaTooNewError(
        f"database schema is newer than this dgarchive: {shown_url(engine)} is at "
        f"revision {current}, this code knows up to {head_revision()}; upgrade dgarchive"
    )


def ensure_schema(engine: Engine) -> str:
    """Bring the schema to head before a crawl; returns the state found.

    empty or behind: upgrade; current: nothing; ahead: `SchemaTooNewError`.
    """
    state = schema_state(engine)
    if state == "ahead":
        raise schema_too_new_error(engine)
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
            raise schema_too_new_error(engine)
        _probe_write(engine, state)
    finally:
        engine.dispose()


def _probe_write(engine: Engine, state: str) -> None:
    with _translated(engine), engine.connect() as conn:
        trans = conn.begin()
        try:
            if state == "empty":
                if conn.dialect.name == "postgresql":
                    ro = conn.exec_driver_sql("SHOW transaction_read_only").scalar()
                    if ro == "on":
                        raise DatabaseReadOnlyError(
                            f"database is read-only: {shown_url(engine)} "
                            "(transaction_read_only is on)"
                        )
                conn.exec_driver_sql("CREATE TABLE dgarchive_write_probe (x INTEGER)")
            else:
                conn.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")
        finally:
            trans.rollback()


# --------------------------------------------------------------------------- records

# The columns full-text search looks in (SQLite FTS5 table / PostgreSQL trigram indexes).
SEARCHABLE = ("title", "text", "title_simplified", "text_simplified")
# Item keys that are not page content: they never enter the content hash or a version.
# `town` and `column_path` (set by the spider) say where the article was listed; `revisit`
# marks an item that only confirms a stored article (see `record_revisit`).
NOT_CONTENT = frozenset({"url", "capture", "town", "column_path", "revisit"})
_T2S_LOCK = threading.Lock()  # one OpenCC converter, shared by the worker and readers


@lru_cache(maxsize=1)
def _t2s():  # noqa: ANN202
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str | None) -> str | None:
    """OpenCC traditional-to-simplified copy of `text` (for search only; never exported)."""
    if not text:
        return text
    with _T2S_LOCK:
        return _t2s().convert(text)


def parse_datetime(value: Any, naive_tz: timezone = UTC) -> datetime | None:
    """An aware datetime from an ISO 8601 string (or datetime); None if absent or unparseable.
    A value without an offset is taken to be in `naive_tz`."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=naive_tz)


def iso_china(dt: datetime) -> str:
    """`2023-02-27T10:14:00+08:00`, the contract's `published_at` form."""
    return dt.astimezone(CHINA).isoformat()


def iso_utc(dt: datetime) -> str:
    """`2026-11-22T00:15:00Z` (fractional seconds only when present), the WARC-Date form."""
    dt = dt.astimezone(UTC)
    out = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        out += f".{dt.microsecond:06d}".rstrip("0")
    return out + "Z"


def _norm_text(value: str) -> str:
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    lines = (" ".join(line.split()) for line in value.split("\n"))
    return "\n".join(line for line in lines if line)


def _normalized(value: Any) -> Any:
    if isinstance(value, str):
        return _norm_text(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            norm = _normalized(item)
            if norm not in (None, "", [], {}):
                out[key] = norm
        return out
    if isinstance(value, list | tuple):
        return [_normalized(v) for v in value]
    return value


def content_hash(record: dict) -> str:
    """`sha256:…` of the record's content, normalized so that what a reader would not call a
    change is not one: Unicode NFC, line endings, runs of whitespace, blank lines, empty
    fields, and the offset `published_at` is written in. URL, capture and town are not
    content."""
    content = {k: v for k, v in record.items() if k not in NOT_CONTENT}
    published = parse_datetime(content.get("published_at"), CHINA)
    if published is not None:
        content["published_at"] = iso_utc(published)
    blob = json.dumps(
        _normalized(content), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def validate_record(record: Any) -> None:
    """Raise ValueError for an item the store cannot take (no URL, a capture without time)."""
    if not isinstance(record, dict):
        raise ValueError(f"record is not a dict: {type(record).__name__}")
    url = record.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ValueError("record has no url")
    capture = record.get("capture")
    if capture:  # an empty capture (WARC writing off) is no capture
        if not isinstance(capture, dict):
            raise ValueError(f"capture of {url} is not a dict")
        if parse_datetime(capture.get("fetched_at")) is None:
            raise ValueError(f"capture of {url} has no valid fetched_at")


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    """A string for a text column: PostgreSQL refuses NUL characters (the version's `extra`
    keeps the exact value when this changes it)."""
    if value is None:
        return None
    return str(value).replace("\x00", "")


def column_path_of(url: str) -> str:
    """`https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_1.html` -> `houjie/cjjs/tshj/`."""
    from urllib.parse import urlsplit

    path = urlsplit(url).path.lstrip("/")
    head, sep, _ = path.partition("content/")
    if sep and (not head or head.endswith("/")):
        return head
    return path.rsplit("/", 1)[0] + "/" if "/" in path else ""


@lru_cache(maxsize=1)
def _configured() -> tuple[dict[str, Any], dict[str, Any]]:
    """Configured towns by slug and columns by path (names, feed ids) for new rows."""
    try:
        from crawler.config import load_towns

        towns = load_towns()
    except Exception:  # noqa: BLE001 - the configuration only improves labels
        return {}, {}
    return {t.slug: t for t in towns}, {c.path: c for t in towns for c in t.columns}


def capture_record(capture: Capture) -> dict[str, Any]:
    """The export's `capture`: the architecture's capture dict, from a captures row."""
    return {
        "warc_filename": capture.warc_filename,
        "warc_offset": capture.warc_offset,
        "warc_length": capture.warc_length,
        "warc_record_id": capture.warc_record_id,
        "payload_digest": capture.payload_digest,
        "fetched_at": iso_utc(capture.fetched_at),
        "target_uri": capture.fetch_url,
        "status": capture.status,
    }


def _interview_record(interview: Interview) -> dict[str, Any]:
    return {
        "guests": [{"name": g.person.name, "title": g.title} for g in interview.guests],
        "summary": interview.summary,
        "sections": [
            {"label": s.label, "topic": s.topic, "headline": s.headline} for s in interview.sections
        ],
        "turns": [
            {
                "speaker": t.speaker,
                "role": t.role,
                "text": t.text,
                "section": t.section.position if t.section is not None else None,
            }
            for t in interview.turns
        ],
    }


def version_record(version: ArticleVersion, url: str) -> dict[str, Any]:
    """The contract record (without `capture`) of a stored version, exactly as it was saved."""
    record: dict[str, Any] = {
        "url": url,
        "site": version.site,
        "column": version.column_label,
        "title": version.title,
        "published_at": iso_china(version.published_at) if version.published_at else None,
        "source": version.source,
        "script": version.script,
        "text": version.text,
        "images": [{"src": i.src, "alt": i.alt} for i in version.images],
        "interview": _interview_record(version.interview) if version.interview else None,
        "anomalies": [{"kind": a.kind, "detail": a.detail} for a in version.anomalies],
    }
    extra = version.extra or {}
    for key in extra.get("absent", ()):
        record.pop(key, None)
    record.update(extra.get("fields", {}))
    return record


# --------------------------------------------------------------------------- the store


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class RecordStore:
    """Writes records (with their capture) and reads them back. The crawl's pipeline and
    `reindex` both write through `save`, so a rebuilt database equals the live one.

    Versions: a record whose normalized content hash equals its article's current one adds a
    captures row only; a different hash adds a version. The version with the latest capture
    is current, so WARC files may be replayed in any order. A capture already stored (same
    WARC-Record-ID) is skipped entirely.
    """

    def __init__(self, engine: Engine | str | URL):
        self._owned = not isinstance(engine, Engine)
        self.engine = make_engine(engine) if self._owned else engine
        self.rows_written = 0  # rows inserted or updated, over the store's life

    def close(self) -> None:
        """Dispose of the engine if the store made it from a URL."""
        if self._owned:
            self.engine.dispose()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with _translated(self.engine):
            with Session(self.engine, expire_on_commit=False, autoflush=False) as session:
                event.listen(session, "before_flush", self._count_rows)
                with session.begin():
                    yield session

    def _count_rows(self, session: Session, _ctx: Any, _instances: Any) -> None:
        dirty = sum(1 for obj in session.dirty if session.is_modified(obj))
        self.rows_written += len(session.new) + dirty

    # runs -----------------------------------------------------------------

    def start_run(self, run_id: str, args: dict | None = None, *, kind: str = "crawl") -> None:
        """Record the start of a run (idempotent: a second call only updates `args`)."""
        with self._session() as s:
            run = s.get(CrawlRun, run_id)
            if run is None:
                s.add(
                    CrawlRun(
                        id=run_id,
                        kind=kind,
                        started_at=datetime.now(UTC),
                        status="running",
                        args=_jsonable(args or {}),
                        counters={},
                    )
                )
            elif args is not None:
                run.args = _jsonable(args)

    def finish_run(self, run_id: str, status: str, counters: dict | None = None) -> None:
        """Record how a run ended: `status` is the finish reason (`finished`, …)."""
        with self._session() as s:
            run = s.get(CrawlRun, run_id)
            if run is None:
                run = CrawlRun(id=run_id, started_at=datetime.now(UTC), args={}, counters={})
                s.add(run)
            run.finished_at = datetime.now(UTC)
            run.status = status
            run.counters = _jsonable(counters or {})

    def _ensure_run(self, s: Session, run_id: str | None) -> None:
        if run_id is not None and s.get(CrawlRun, run_id) is None:
            s.add(
                CrawlRun(
                    id=run_id,
                    started_at=datetime.now(UTC),
                    status="running",
                    args={},
                    counters={},
                )
            )
            s.flush()

    # writing --------------------------------------------------------------

    def save(self, records: Iterable[dict], run_id: str | None = None) -> dict[str, int]:
        """Store a batch of records in one transaction; counts of new, changed and unchanged
        articles. Each record is the contract record plus `capture` (the WARC location, with
        optional `etag` / `last_modified`) and an optional `town` slug and `column_path`.

        What the batch needs from the database is read up front in a few queries, the rows
        are built in memory and written in one flush (multi-row inserts): a batch costs a
        handful of round trips, not several per record.
        """
        records = list(records)
        for record in records:
            validate_record(record)
        counts = {"new": 0, "changed": 0, "unchanged": 0}
        if not records:
            return counts
        with self._session() as s:
            self._ensure_run(s, run_id)
            batch = _Batch.load(s, records)
            for record in records:
                counts[self._save_one(s, record, run_id, batch)] += 1
            s.flush()
        return counts

    def _save_one(self, s: Session, record: dict, run_id: str | None, batch: _Batch) -> str:
        url = record["url"].strip()
        capture = record.get("capture") or None
        rid = capture.get("warc_record_id") if capture else None
        if rid:
            if rid in batch.record_ids:
                return "unchanged"  # this very capture is stored already
            batch.record_ids.add(rid)
        digest = content_hash(record)
        article = batch.articles.get(url)
        cap = _capture_row(capture, url, run_id) if capture else None
        seen = cap.fetched_at if cap is not None else datetime.now(UTC)
        if cap is not None:
            s.add(cap)
        if article is None:
            article = Article(
                url=url,
                column=self._column(s, url, record, batch),
                content_hash=digest,
                first_seen_at=seen,
                last_seen_at=seen,
            )
            s.add(article)
            batch.articles[url] = article
            if cap is not None:
                cap.article = article
            version = self._version(s, article, record, digest, cap, batch.next_number(url), batch)
            _make_current(article, version)
            return "new"
        if cap is not None:
            cap.article = article
        article.first_seen_at = min(article.first_seen_at, seen)
        article.last_seen_at = max(article.last_seen_at, seen)
        if digest == article.content_hash:
            return "unchanged"
        version = self._version(s, article, record, digest, cap, batch.next_number(url), batch)
        current = article.current_version
        current_at = (
            current.capture.fetched_at
            if current is not None and current.capture is not None
            else None
        )
        if current_at is None or seen >= current_at:
            _make_current(article, version)
        return "changed"

    def _column(self, s: Session, url: str, record: dict, batch: _Batch) -> SiteColumn | None:
        given = record.get("column_path")
        path = given.strip().lstrip("/") if isinstance(given, str) and given.strip() else ""
        path = path or column_path_of(url)
        if not path:
            return None
        if path in batch.columns:
            return batch.columns[path]
        column = s.scalar(select(SiteColumn).where(SiteColumn.path == path))
        if column is None:
            towns, columns = _configured()
            slug = (record.get("town") or path.split("/", 1)[0]).strip()
            town = batch.towns.get(slug) or s.scalar(select(Town).where(Town.slug == slug))
            if town is None:
                conf = towns.get(slug)
                town = Town(
                    slug=slug,
                    name=conf.name if conf else slug,
                    site_name=(conf.site if conf and conf.site else None)
                    or _text(record.get("site")),
                )
                s.add(town)
            batch.towns[slug] = town
            conf_col = columns.get(path)
            column = SiteColumn(
                town=town,
                path=path,
                name=(conf_col.name if conf_col and conf_col.name else None)
                or _text(record.get("column"))
                or path,
                feed_id=conf_col.feed if conf_col else None,
            )
            s.add(column)
        batch.columns[path] = column
        return column

    def _person(self, s: Session, name: str, batch: _Batch) -> Person:
        person = batch.people.get(name)
        if person is None:
            person = Person(name=name, name_simplified=to_simplified(name) or name)
            s.add(person)
            batch.people[name] = person
        return person

    def _version(
        self,
        s: Session,
        article: Article,
        record: dict,
        digest: str,
        cap: Capture | None,
        number: int,
        batch: _Batch,
    ) -> ArticleVersion:
        version = ArticleVersion(
            article=article,
            number=number,
            capture=cap,
            content_hash=digest,
            site=_text(record.get("site")),
            column_label=_text(record.get("column")),
            title=_text(record.get("title")),
            published_at=parse_datetime(record.get("published_at"), CHINA),
            source=_text(record.get("source")),
            script=_text(record.get("script")),
            text=_text(record.get("text")),
        )
        s.add(version)
        for i, img in enumerate(_dicts(record.get("images"))):
            version.images.append(
                Image(position=i, src=_text(img.get("src")) or "", alt=_text(img.get("alt")))
            )
        for i, anomaly in enumerate(_dicts(record.get("anomalies"))):
            version.anomalies.append(
                Anomaly(
                    position=i,
                    kind=_text(anomaly.get("kind")) or "",
                    detail=_text(anomaly.get("detail")),
                )
            )
        interview = record.get("interview")
        if isinstance(interview, dict):
            version.interview = self._interview(s, interview, batch)
        version.extra = _fidelity_extra(record, version_record(version, record["url"].strip()))
        return version

    def _interview(self, s: Session, data: dict, batch: _Batch) -> Interview:
        interview = Interview(summary=_text(data.get("summary")))
        guests: dict[str, Person] = {}
        for i, guest in enumerate(_dicts(data.get("guests"))):
            name = (_text(guest.get("name")) or "").strip()
            if not name:
                continue  # nothing to link; `extra` keeps the guest as given
            person = self._person(s, name, batch)
            guests[name] = person
            interview.guests.append(
                InterviewGuest(position=i, person=person, title=_text(guest.get("title")))
            )
        sections = []
        for i, sec in enumerate(_dicts(data.get("sections"))):
            row = InterviewSection(
                position=i,
                label=_text(sec.get("label")),
                topic=_text(sec.get("topic")),
                headline=_text(sec.get("headline")),
            )
            interview.sections.append(row)
            sections.append(row)
        only_guest = next(iter(guests.values())) if len(guests) == 1 else None
        for i, turn in enumerate(_dicts(data.get("turns"))):
            speaker = _text(turn.get("speaker")) or ""
            role = _text(turn.get("role")) or ""
            index = turn.get("section")
            section = (
                sections[index]
                if isinstance(index, int)
                and not isinstance(index, bool)
                and 0 <= index < len(sections)
                else None
            )
            # A guest's turn names the guest as in the guest line; with a single guest, any
            # guest turn is theirs (the speaker may be written shorter than the guest line).
            person = guests.get(speaker.strip()) or (only_guest if role == "guest" else None)
            interview.turns.append(
                InterviewTurn(
                    position=i,
                    speaker=speaker,
                    role=role,
                    text=_text(turn.get("text")) or "",
                    section=section,
                    person=person,
                )
            )
        return interview

    def record_revisit(self, url: str, capture: dict, run_id: str | None = None) -> bool:
        """Note that a stored article was confirmed unchanged by a revisit record: a captures
        row pointing at it, and the article's `last_seen_at`. False if the article is not
        stored or the capture is already recorded."""
        if not capture:
            return False
        validate_record({"url": url, "capture": capture})
        with self._session() as s:
            article = s.scalar(select(Article).where(Article.url == url.strip()))
            rid = capture.get("warc_record_id")
            if article is None or (
                rid and s.scalar(select(Capture.id).where(Capture.warc_record_id == rid))
            ):
                return False
            self._ensure_run(s, run_id)
            cap = _capture_row({"warc_type": "revisit", **capture}, article.url, run_id)
            cap.article = article
            s.add(cap)
            article.last_seen_at = max(article.last_seen_at, cap.fetched_at)
            article.first_seen_at = min(article.first_seen_at, cap.fetched_at)
        return True

    # reading --------------------------------------------------------------

    def known_articles(self, urls: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Stored articles (all, or those among `urls`) with their last capture, for the
        incremental crawl: `fetch_url`/`target_uri`, `fetched_at`, `warc_record_id`,
        `warc_filename`, `warc_offset`, `payload_digest`, `status` of the latest *response*
        capture (what a revisit refers to); `etag` and `last_modified` from the latest capture
        that carried either (a 304 may refresh them); `last_seen_at` (latest capture of any
        kind) and `content_hash`. Times are ISO 8601 UTC strings (`…Z`)."""
        wanted = None if urls is None else sorted({u.strip() for u in urls if u})
        out: dict[str, dict[str, Any]] = {}
        with self._session() as s:
            for chunk in [None] if wanted is None else _chunks(wanted, 500):
                self._known_chunk(s, chunk, out)
        return out

    def _known_chunk(self, s: Session, urls: list[str] | None, out: dict) -> None:
        article_ids = select(Article.id)
        if urls is not None:
            article_ids = article_ids.where(Article.url.in_(urls))
        order = (Capture.fetched_at.desc(), Capture.id.desc())
        latest = (
            select(
                Capture,
                func.row_number().over(partition_by=Capture.article_id, order_by=order).label("rn"),
            )
            .where(Capture.warc_type == "response", Capture.article_id.in_(article_ids))
            .subquery()
        )
        validators = (
            select(
                Capture.article_id,
                Capture.etag,
                Capture.last_modified,
                func.row_number().over(partition_by=Capture.article_id, order_by=order).label("rn"),
            )
            .where(
                or_(Capture.etag.is_not(None), Capture.last_modified.is_not(None)),
                Capture.article_id.in_(article_ids),
            )
            .subquery()
        )
        query = (
            select(
                Article.url,
                Article.last_seen_at,
                Article.content_hash,
                latest.c.fetch_url,
                latest.c.fetched_at,
                latest.c.warc_record_id,
                latest.c.warc_filename,
                latest.c.warc_offset,
                latest.c.payload_digest,
                latest.c.status,
                validators.c.etag,
                validators.c.last_modified,
            )
            .outerjoin(latest, (latest.c.article_id == Article.id) & (latest.c.rn == 1))
            .outerjoin(validators, (validators.c.article_id == Article.id) & (validators.c.rn == 1))
        )
        if urls is not None:
            query = query.where(Article.url.in_(urls))
        for row in s.execute(query):
            fetched = row.fetched_at
            out[row.url] = {
                "url": row.url,
                "fetch_url": row.fetch_url,
                "target_uri": row.fetch_url,
                "fetched_at": iso_utc(fetched) if fetched else None,
                "warc_record_id": row.warc_record_id,
                "warc_filename": row.warc_filename,
                "warc_offset": row.warc_offset,
                "payload_digest": row.payload_digest,
                "status": row.status,
                "etag": row.etag,
                "last_modified": row.last_modified,
                "last_seen_at": iso_utc(row.last_seen_at),
                "content_hash": row.content_hash,
            }

    def iter_records(self, since: date | None = None, chunk: int = 200) -> Iterator[dict]:
        """Every article's current version as its contract record plus `capture`, ordered
        by URL (code-point order, the same on every engine). `since`: articles published on
        or after that day, China time."""
        with Session(self.engine) as s, _translated(self.engine):
            query = select(Article.id, Article.url).where(Article.current_version_id.is_not(None))
            if since is not None:
                start = datetime.combine(since, time(0), CHINA)
                query = query.where(Article.published_at >= start)
            pairs = sorted(s.execute(query).all(), key=lambda p: p.url)
            for ids in _chunks([p.id for p in pairs], chunk):
                versions = s.scalars(
                    select(ArticleVersion)
                    .join(Article, Article.current_version_id == ArticleVersion.id)
                    .where(Article.id.in_(ids))
                    .options(
                        selectinload(ArticleVersion.article),
                        selectinload(ArticleVersion.capture),
                        selectinload(ArticleVersion.images),
                        selectinload(ArticleVersion.anomalies),
                        selectinload(ArticleVersion.interview)
                        .selectinload(Interview.guests)
                        .selectinload(InterviewGuest.person),
                        selectinload(ArticleVersion.interview).selectinload(Interview.sections),
                        selectinload(ArticleVersion.interview)
                        .selectinload(Interview.turns)
                        .selectinload(InterviewTurn.section),
                    )
                ).all()
                by_article = {v.article_id: v for v in versions}
                for article_id in ids:
                    version = by_article[article_id]
                    record = version_record(version, version.article.url)
                    record["capture"] = capture_record(version.capture) if version.capture else None
                    yield record
                s.expunge_all()  # memory stays flat on a large database


class _Batch:
    """What one `save` batch knows of the database, read up front, plus what it adds."""

    def __init__(self) -> None:
        self.record_ids: set[str] = set()  # WARC-Record-IDs stored or added
        self.articles: dict[str, Article] = {}  # by URL, stored or added
        self.numbers: dict[str, int] = {}  # highest version number by URL
        self.people: dict[str, Person] = {}
        self.columns: dict[str, SiteColumn] = {}
        self.towns: dict[str, Town] = {}

    def next_number(self, url: str) -> int:
        self.numbers[url] = self.numbers.get(url, 0) + 1
        return self.numbers[url]

    @classmethod
    def load(cls, s: Session, records: list[dict]) -> _Batch:
        batch = cls()
        rids = sorted(
            {
                r["capture"]["warc_record_id"]
                for r in records
                if r.get("capture") and r["capture"].get("warc_record_id")
            }
        )
        urls = sorted({r["url"].strip() for r in records})
        names = sorted(
            {
                (_text(g.get("name")) or "").strip()
                for r in records
                if isinstance(r.get("interview"), dict)
                for g in _dicts(r["interview"].get("guests"))
            }
            - {""}
        )
        for chunk in _chunks(rids, 500):
            batch.record_ids.update(
                s.scalars(select(Capture.warc_record_id).where(Capture.warc_record_id.in_(chunk)))
            )
        for chunk in _chunks(urls, 500):
            for article in s.scalars(
                select(Article)
                .where(Article.url.in_(chunk))
                .options(selectinload(Article.current_version).selectinload(ArticleVersion.capture))
            ):
                batch.articles[article.url] = article
            for url, number in s.execute(
                select(Article.url, func.max(ArticleVersion.number))
                .join(ArticleVersion, ArticleVersion.article_id == Article.id)
                .where(Article.url.in_(chunk))
                .group_by(Article.url)
            ):
                batch.numbers[url] = number or 0
        for chunk in _chunks(names, 500):
            for person in s.scalars(select(Person).where(Person.name.in_(chunk))):
                batch.people[person.name] = person
        return batch


def _dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _capture_row(capture: dict, url: str, run_id: str | None) -> Capture:
    return Capture(
        url=url,
        fetch_url=_text(capture.get("target_uri") or capture.get("fetch_url")),
        fetched_at=parse_datetime(capture.get("fetched_at")),
        status=_int(capture.get("status")),
        warc_type=_text(capture.get("warc_type")) or "response",
        warc_filename=_text(capture.get("warc_filename")),
        warc_offset=_int(capture.get("warc_offset")),
        warc_length=_int(capture.get("warc_length")),
        warc_record_id=_text(capture.get("warc_record_id")),
        payload_digest=_text(capture.get("payload_digest")),
        etag=_text(capture.get("etag")),
        last_modified=_text(capture.get("last_modified")),
        crawl_run_id=run_id,
    )


def _make_current(article: Article, version: ArticleVersion) -> None:
    article.current_version = version
    article.content_hash = version.content_hash
    article.title = version.title
    article.published_at = version.published_at
    article.source = version.source
    article.script = version.script
    article.text = version.text
    article.title_simplified = to_simplified(version.title)
    article.text_simplified = to_simplified(version.text)


def _fidelity_extra(record: dict, rebuilt: dict) -> dict | None:
    """What the rows cannot give back exactly: record keys whose value the tables would
    change (an unknown key, a missing `alt`, a `published_at` in another offset), kept
    verbatim so that export returns the record as saved."""
    fields = {
        k: v
        for k, v in record.items()
        if k not in NOT_CONTENT and (k not in rebuilt or rebuilt[k] != v)
    }
    absent = [k for k in rebuilt if k not in record and k not in NOT_CONTENT]
    extra: dict[str, Any] = {}
    if fields:
        extra["fields"] = _jsonable(fields)
    if absent:
        extra["absent"] = absent
    return extra or None


def _jsonable(value: Any) -> Any:
    """A JSON-safe copy: datetimes as ISO strings, unknown objects as their str()."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


# --------------------------------------------------------------------------- search


def search(
    session_or_engine: Session | Engine, phrase: str, *, limit: int | None = None
) -> list[str]:
    """URLs of articles whose title or text contains `phrase`, newest first.

    The phrase is also looked up in simplified script (OpenCC t2s) against the simplified
    copies, so either script finds pages in either script. SQLite uses the FTS5 trigram
    index; PostgreSQL the pg_trgm GIN indexes through ILIKE. A phrase under three
    characters cannot use a trigram index and is matched with LIKE.
    """
    phrase = (phrase or "").strip()
    if not phrase:
        return []
    phrases = list(dict.fromkeys([phrase, to_simplified(phrase) or phrase]))
    if isinstance(session_or_engine, Session):
        return _search(session_or_engine, phrases, limit)
    with Session(session_or_engine) as s, _translated(session_or_engine):
        return _search(s, phrases, limit)


def _has_fts(s: Session) -> bool:
    found = s.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": FTS_TABLE},
    ).first()
    return found is not None


def _search(s: Session, phrases: list[str], limit: int | None) -> list[str]:
    dialect = s.get_bind().dialect.name
    query = select(Article.url)
    if dialect == "sqlite" and min(len(p) for p in phrases) >= 3 and _has_fts(s):
        # Each phrase as an FTS5 string (quotes doubled): a substring match via trigrams.
        match = " OR ".join('"' + p.replace('"', '""') + '"' for p in phrases)
        hits = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :match")
        hits = hits.bindparams(match=match).columns(column("rowid", Integer))
        query = query.where(Article.id.in_(select(hits.subquery().c.rowid)))
    else:
        conditions = []
        for p in phrases:
            pattern = "%" + p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            for col in SEARCHABLE:
                attr = getattr(Article, col)
                conditions.append(
                    attr.ilike(pattern, escape="\\")
                    if dialect == "postgresql"
                    else attr.like(pattern, escape="\\")
                )
        query = query.where(or_(*conditions))
    query = query.order_by(Article.published_at.desc().nulls_last(), Article.url)
    if limit is not None:
        query = query.limit(limit)
    return list(s.scalars(query))


# --------------------------------------------------------------------------- the pipeline


# The writer's side of DatabasePipeline. Module-level functions, so that they can run in
# a separate process (pickled by name); each pipeline's store is found by its token.
_WRITER_STORES: dict[str, RecordStore] = {}

# What the writer turns into a one-line `DatabaseError` (exit 5): the database's own errors
# and the operating system's (disk, file permissions). Anything else is a bug and crosses to
# the crawl as itself, with its traceback, so it ends as an internal error (exit 70).
STORE_ERRORS: tuple[type[BaseException], ...] = (sa_exc.SQLAlchemyError, OSError, DatabaseError)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _writer_init(parent_pid: int) -> None:
    """Run first in the writer process: tie its life to the crawl's.

    On Linux the kernel sends SIGKILL to the writer when the crawl process dies, however it
    dies (kill -9, OOM killer), so no writer is left holding the database files. If the crawl
    died before this line ran, the writer has already been re-parented: it exits at once.
    SIGINT and SIGTERM are ignored: Ctrl-C reaches the whole process group, and the crawl
    decides when its writer stops (after the pending batch is written).
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            logger.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != parent_pid:
        os._exit(1)


def _writer_open(token: str, db_url: str, run_id: str, args: dict) -> None:
    engine = make_engine(db_url)
    try:
        ensure_schema(engine)
        store = RecordStore(engine)
        store.start_run(run_id, args)
    except STORE_ERRORS as exc:
        engine.dispose()
        raise translate_error(exc, db_url) from None
    except BaseException:
        engine.dispose()
        raise
    _WRITER_STORES[token] = store


def _writer_save(token: str, batch: list[dict], run_id: str) -> tuple[dict[str, int], int]:
    """Save a batch in arrival order: runs of records in one transaction each, revisit
    items (`{"revisit": True, "url", "capture"}`) through `record_revisit`."""
    store = _WRITER_STORES[token]
    try:
        before = store.rows_written
        counts = {"new": 0, "changed": 0, "unchanged": 0, "revisits": 0}
        records: list[dict] = []
        for item in [*batch, None]:
            if item is not None and not item.get("revisit"):
                records.append(item)
                continue
            if records:
                for key, n in store.save(records, run_id).items():
                    counts[key] += n
                records = []
            if item is not None and item.get("capture"):
                if store.record_revisit(item["url"], item["capture"], run_id):
                    counts["revisits"] += 1
        return counts, store.rows_written - before
    except STORE_ERRORS as exc:
        # Only our own one-line errors cross a process boundary; driver errors may not pickle.
        raise translate_error(exc, store.engine) from None


def _writer_finish(token: str, run_id: str, status: str, counters: dict) -> None:
    store = _WRITER_STORES.pop(token, None)
    if store is None:
        return
    try:
        store.finish_run(run_id, status, {**counters, "rows_written": store.rows_written})
    except STORE_ERRORS as exc:
        raise translate_error(exc, store.engine) from None
    finally:
        store.engine.dispose()


def _spawn_context():
    import multiprocessing

    # spawn, not fork: the crawl process runs a reactor and threads a fork would copy.
    return multiprocessing.get_context("spawn")


class DatabasePipeline:
    """Scrapy item pipeline: stores article items (record + `capture` + `town`) through
    `RecordStore.save`, in batches, on a writer of its own, so the crawl never waits on the
    database. One writer keeps writes in order and the database single-writer.

    The writer is a separate process by default: the ORM work is CPU-bound Python, and in a
    thread it would hold the interpreter lock that the crawl's reactor needs (measured: a
    thread writer cost the 2,000-article mirror crawl about a third of its speed).

    Settings: `DB_ENABLED` (True), `DB_URL` (`sqlite:///dgarchive.sqlite`; the command
    fills it from `--db` / `DGARCHIVE_DB`), `DB_BATCH_SIZE` (200), `DB_WRITER` (`process`
    or `thread`), `CRAWL_RUN_ID` (the run's id, a new uuid4 when unset).

    Stats: `db/articles_new`, `db/articles_changed`, `db/articles_unchanged`,
    `db/revisits`, `db/rows_upserted`, `db/batches`, `db/errors`, and `db/failure` (the
    finish reason the failure calls for, `database_error` or `internal_error`, read by
    `crawler.report.RunReport` so that a failure found while the spider closes, the last
    batch's included, still decides the exit code).

    At open the schema is brought to head (an empty database is created); an unreachable
    database or a schema newer than the code raises its `DatabaseError` there, so the crawl
    stops before it starts. A failed batch logs one line and closes the spider with reason
    `database_error`: the WARC files keep every page and `dgarchive reindex` recovers them.
    Every record that was not stored is a failure of the run report, under its own URL.
    An error that is neither the database's nor the OS's is a bug: it is logged with its
    traceback and closes the spider with `internal_error` (exit 70), never as exit 5.
    """

    MAX_PENDING_BATCHES = 4  # back-pressure: beyond this, items wait for the database

    def __init__(
        self,
        db_url: str,
        batch_size: int = 200,
        *,
        run_id: str | None = None,
        run_args: dict | None = None,
        stats: Any = None,
        stop_crawl: Callable[[str], None] | None = None,
        writer: str = "process",
    ):
        if batch_size < 1:
            raise ValueError(f"DB_BATCH_SIZE must be >= 1, got {batch_size}")
        if writer not in ("process", "thread"):
            raise ValueError(f"DB_WRITER must be process or thread, got {writer!r}")
        self.db_url = db_url
        self.batch_size = batch_size
        self.run_id = run_id or str(uuid.uuid4())
        self.run_args = run_args or {}
        self.stats = stats
        self.stop_crawl = stop_crawl
        self.writer = writer
        self._token: str | None = None  # set while the writer holds an open store
        self.failed: DatabaseError | None = None
        self._failure_reason: str | None = None  # the finish reason the failure calls for
        self.counts = {"new": 0, "changed": 0, "unchanged": 0}
        self._buffer: list[dict] = []
        self._pending: list[tuple[Future, list[dict]]] = []
        self._executor: Executor | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> DatabasePipeline:
        from scrapy import signals
        from scrapy.exceptions import NotConfigured

        settings = crawler.settings
        if not settings.getbool("DB_ENABLED", True):
            raise NotConfigured("DB_ENABLED is off: archive only")
        pipeline = cls(
            settings.get("DB_URL") or "sqlite:///dgarchive.sqlite",
            settings.getint("DB_BATCH_SIZE", 200),
            run_id=settings.get("CRAWL_RUN_ID") or None,
            run_args={
                name.lower(): settings.get(name)
                for name in (
                    "CRAWL_SITE_ROOT",
                    "CRAWL_INCREMENTAL",
                    "CRAWL_DISCOVERY",
                    "CRAWL_REVISIT_OLDER_THAN",
                    "WARC_DIR",
                )
                if settings.get(name) is not None
            },
            stats=crawler.stats,
            stop_crawl=lambda reason: _close_spider_later(crawler, reason),
            writer=settings.get("DB_WRITER", "process"),
        )
        pipeline.crawler = crawler
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    @property
    def store_open(self) -> bool:
        return self._token is not None

    # lifecycle ------------------------------------------------------------

    async def open_spider(self) -> None:
        if self.writer == "process":
            self._executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=_spawn_context(),
                initializer=_writer_init,
                initargs=(os.getpid(),),
            )
        else:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dgarchive-db")
        spider = getattr(getattr(self, "crawler", None), "spider", None)
        args = dict(self.run_args)
        if spider is not None:
            args["spider"] = spider.name
            for name in ("towns", "columns", "full"):
                if hasattr(spider, name):
                    args[name] = getattr(spider, name)
        token = uuid.uuid4().hex
        try:
            await self._in_worker(_writer_open, token, self.db_url, self.run_id, args)
        except BaseException as exc:
            self._shutdown()
            if isinstance(exc, BrokenExecutor):
                raise DatabaseError(f"database writer failed to start: {exc}") from None
            raise
        self._token = token

    async def process_item(self, item: Any) -> Any:
        from scrapy.exceptions import DropItem

        if not self.store_open:
            return item
        record = item if isinstance(item, dict) else _as_dict(item)
        if self.failed is not None:
            self._not_stored([record], self.failed)
            return item
        try:
            validate_record(record)
        except ValueError as exc:
            raise DropItem(f"not stored: {exc}") from None
        self._buffer.append(dict(record))
        if len(self._buffer) >= self.batch_size:
            self._submit()
        self._collect()
        if len(self._pending) > self.MAX_PENDING_BATCHES:
            await self._wait(self._pending[0][0])
            self._collect()
        return item

    async def close_spider(self) -> None:
        if not self.store_open:
            return
        if self.failed is None:
            self._submit()
        while self._pending:
            await self._wait(self._pending[0][0])
            self._collect()

    async def spider_closed(self, spider: Any = None, reason: str = "finished") -> None:
        token, self._token = self._token, None
        if token is None:
            self._shutdown()
            return
        status = self._failure_reason or reason
        counters = {
            "new_articles": self.counts["new"],
            "changed_articles": self.counts["changed"],
            "unchanged_articles": self.counts["unchanged"],
        }
        try:
            await self._in_worker(_writer_finish, token, self.run_id, status, counters)
        except (DatabaseError, BrokenExecutor) as exc:
            if self.failed is None:
                logger.error("database error while closing the run: %s", exc)
                self._mark_failed("database_error")
        except Exception:
            logger.exception("internal error in the database writer while closing the run")
            self._mark_failed("internal_error")
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # batches --------------------------------------------------------------

    def _submit(self) -> None:
        if not self._buffer or not self.store_open or self._executor is None:
            return
        batch, self._buffer = self._buffer, []
        fut = self._executor.submit(_writer_save, self._token, batch, self.run_id)
        self._pending.append((fut, batch))

    def _collect(self) -> None:
        """Account for finished batches, in order; stop the crawl on the first failure."""
        while self._pending and self._pending[0][0].done():
            fut, batch = self._pending.pop(0)
            exc = fut.exception()
            if exc is None:
                counts, rows = fut.result()
                for key, n in counts.items():
                    self.counts[key] = self.counts.get(key, 0) + n
                    name = "db/revisits" if key == "revisits" else f"db/articles_{key}"
                    self._inc(name, n)
                self._inc("db/rows_upserted", rows)
                self._inc("db/batches", 1)
            else:
                self._fail(exc, batch)

    def _fail(self, exc: BaseException, batch: list[dict] | None = None) -> None:
        self._inc("db/errors", 1)
        if self.failed is not None:
            self._not_stored(batch or [], self.failed)
            return
        reason = "database_error"
        if isinstance(exc, BrokenExecutor):
            error: DatabaseError = DatabaseError(f"database writer process died: {exc}")
        elif isinstance(exc, STORE_ERRORS):
            error = translate_error(exc, self.db_url)
        else:
            # A bug, not the database: keep the traceback (the writer's, from another
            # process, is chained as the cause) and end as an internal error.
            reason = "internal_error"
            error = DatabaseError(f"internal error in the database writer: {exc!r}")
            logger.error(
                "internal error in the database writer, stopping the crawl",
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        self.failed = error
        self._failure_reason = reason
        lost, self._buffer = [*(batch or []), *self._buffer], []
        self._not_stored(lost, error)
        if reason == "database_error":
            logger.error(
                "database error, stopping the crawl (the WARC files keep every page; "
                "`dgarchive reindex` rebuilds the database from them): %s",
                error,
            )
        self._mark_failed(reason)
        if self.stop_crawl is not None:
            self.stop_crawl(reason)

    def _mark_failed(self, reason: str) -> None:
        """Tell the run report why the run failed, for a failure the close reason misses."""
        if self.stats is not None and self.stats.get_value("db/failure") is None:
            self.stats.set_value("db/failure", reason)

    def _not_stored(self, records: list[dict], error: BaseException) -> None:
        """Each record that will not be in the database is a failure of the run."""
        stats = self.stats
        if stats is None or not records:
            return
        from crawler.report import record_failure

        for record in records:
            url = record.get("url") if isinstance(record, dict) else None
            if url:
                record_failure(stats, str(url), f"not stored: {error}")

    def _inc(self, key: str, n: int) -> None:
        if self.stats is not None and n:
            self.stats.inc_value(key, n)

    async def _in_worker(self, fn: Callable, *args: Any) -> Any:
        if self._executor is None:
            return fn(*args)
        fut = self._executor.submit(fn, *args)
        await self._wait(fut)
        return fut.result()

    @staticmethod
    async def _wait(fut: Future) -> None:
        """Wait, without blocking the reactor (asyncio or plain Twisted), for the writer's
        future to finish; its outcome stays in `fut`."""
        from scrapy.utils.asyncio import is_asyncio_available

        if is_asyncio_available():
            wrapped = asyncio.wrap_future(fut)
            await asyncio.wait([wrapped])
            if not wrapped.cancelled():
                wrapped.exception()  # retrieved: the outcome is read from `fut` below
        else:
            from twisted.internet import reactor
            from twisted.internet.defer import Deferred

            done: Deferred = Deferred()
            fut.add_done_callback(lambda _f: reactor.callFromThread(done.callback, None))
            await done


def _as_dict(item: Any) -> dict:
    from itemadapter import ItemAdapter

    return ItemAdapter(item).asdict()


def _close_spider_later(crawler: Any, reason: str) -> None:
    """Close the spider from outside the current item's processing (closing waits for the
    items in progress, so awaiting it here would wait for ourselves)."""
    from scrapy.utils.defer import deferred_from_coro
    from twisted.internet import reactor

    engine = crawler.engine
    if engine is None or engine.spider is None:
        return
    slot = getattr(engine, "_slot", None)
    if slot is not None and getattr(slot, "closing", None) is not None:
        return  # already closing (a failure of the last batch): its reason is in the stats
    reactor.callLater(0, lambda: deferred_from_coro(engine.close_spider_async(reason=reason)))
