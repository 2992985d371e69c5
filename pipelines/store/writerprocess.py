"""The database writer: the functions DatabasePipeline runs on its writer process (or
thread), each pipeline's `RecordStore` found by a token. No Scrapy imports.

Module-level functions, so that a `spawn` process can run them (pickled by name).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from pipelines.store.engine import make_engine
from pipelines.store.errors import DatabaseError
from pipelines.store.failures import translate_error
from pipelines.store.labels import TownLike
from pipelines.store.models import Article
from pipelines.store.schema import check_database, ensure_schema, schema_state
from pipelines.store.urls import sqlite_file
from pipelines.store.writer import RecordStore

__all__ = [
    "STORE_ERRORS",
    "writer_check",
    "writer_finish",
    "writer_known",
    "writer_open",
    "writer_prepare",
    "writer_save",
]

_WRITER_STORES: dict[str, RecordStore] = {}

# What the writer turns into a one-line `DatabaseError` (exit 5): the database's own errors
# and the operating system's (disk, file permissions). Anything else is a bug and crosses to
# the crawl as itself, with its traceback, so it ends as an internal error (exit 70).
STORE_ERRORS: tuple[type[BaseException], ...] = (sa_exc.SQLAlchemyError, OSError, DatabaseError)

# A failed `writer_prepare`, by database URL: `writer_open` raises it instead of trying again
# (a locked database would otherwise make the crawl wait out its busy timeout twice).
_PREPARE_FAILED: dict[str, BaseException] = {}


def writer_check(db_url: str) -> Path | None:
    """The crawl's pre-flight `check_database`, before its locks, and the SQLite file it
    locks beside (`sqlite_file`, None for a server database): run here, in the writer
    process `pipelines.writerboot.warm` started, the crawl process needs no SQLAlchemy."""
    try:
        check_database(db_url)
    except STORE_ERRORS as exc:
        raise translate_error(exc, db_url) from None
    return sqlite_file(db_url)


def writer_known(db_url: str, captures: bool = True) -> dict[str, dict] | set[str]:
    """The stored articles, for the incremental crawl: with `captures`, each with its last
    capture (`RecordStore.known_articles`); without, only the set of their URLs, all the
    crawl asks then (a dict of captures costs about 1.5 KB an article, held for the whole
    run). Empty for a database with no schema yet."""
    engine = make_engine(db_url)
    try:
        if schema_state(engine) == "empty":
            return {} if captures else set()
        if captures:
            return RecordStore(engine).known_articles()
        with engine.connect() as conn:
            return set(conn.scalars(select(Article.url)))
    except STORE_ERRORS as exc:
        raise translate_error(exc, db_url) from None
    finally:
        engine.dispose()


def writer_prepare(db_url: str) -> None:
    """Bring the schema to head ahead of `writer_open`, in the same process, while the crawl
    process starts (`pipelines.writerboot`; the crawl holds its locks by then). What
    `writer_open` would raise for it is kept, and raised there."""
    _PREPARE_FAILED.pop(db_url, None)
    engine = make_engine(db_url)
    try:
        ensure_schema(engine)
    except STORE_ERRORS as exc:
        _PREPARE_FAILED[db_url] = translate_error(exc, db_url)
    except Exception as exc:  # noqa: BLE001 - a bug: writer_open raises it as itself
        _PREPARE_FAILED[db_url] = exc
    finally:
        engine.dispose()


def writer_open(
    token: str,
    db_url: str,
    run_id: str,
    args: dict,
    towns: Iterable[TownLike] = (),
    worker: str | None = None,
) -> None:
    """Open the store `token` names and start the run (`worker`: this process writes for
    that worker of a distributed run)."""
    failed = _PREPARE_FAILED.pop(db_url, None)
    if failed is not None:
        raise failed
    engine = make_engine(db_url)
    try:
        ensure_schema(engine)
        store = RecordStore(engine, towns=towns)
        store.start_run(run_id, args, worker=worker)
    except STORE_ERRORS as exc:
        engine.dispose()
        raise translate_error(exc, db_url) from None
    except BaseException:
        engine.dispose()
        raise
    _WRITER_STORES[token] = store


def writer_save(token: str, batch: list[dict], run_id: str) -> tuple[dict[str, int], int]:
    """Save a batch in arrival order: runs of records in one transaction each, revisit
    items (`{"revisit": True, "url", "capture"}`) through `record_revisit`."""
    store = _WRITER_STORES[token]
    try:
        before = store.rows_written
        counts = store.save_items(batch, run_id)
        return counts, store.rows_written - before
    except STORE_ERRORS as exc:
        # Only our own one-line errors cross a process boundary; driver errors may not pickle.
        raise translate_error(exc, store.engine) from None


def writer_finish(token: str, run_id: str, status: str, counters: dict) -> None:
    store = _WRITER_STORES.pop(token, None)
    if store is None:
        return
    try:
        store.finish_run(run_id, status, {**counters, "rows_written": store.rows_written})
    except STORE_ERRORS as exc:
        raise translate_error(exc, store.engine) from None
    finally:
        store.engine.dispose()
