"""The crawl's item pipeline `DatabasePipeline`: a thin Scrapy adapter that batches items
for the store's writer (`pipelines.store.writerprocess`), in a process or a thread of its own.

Errors that an operator must act on surface as `DatabaseError` subclasses whose message is
one line, names the database without its password, and carries no traceback.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import BrokenExecutor, Executor, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from pipelines import writerboot
from pipelines.failures import record_failure
from pipelines.heap import DEFAULT_THRESHOLD, freeze_heap
from pipelines.store.errors import DatabaseError
from pipelines.store.validation import validate_record

if TYPE_CHECKING:
    from pipelines.store.labels import TownLike

__all__ = ["DatabasePipeline"]

logger = logging.getLogger(__name__)


class DatabasePipeline:
    """Scrapy item pipeline: stores article items (record + `capture` + `town`) through
    `RecordStore.save`, in batches, on a writer of its own, so the crawl never waits on the
    database. One writer keeps writes in order and the database single-writer.

    The writer is a separate process by default: the ORM work is CPU-bound Python, and in a
    thread it would hold the interpreter lock that the crawl's reactor needs (measured: a
    thread writer cost the 2,000-article mirror crawl about a third of its speed).

    Settings: `DB_ENABLED` (True), `DB_URL` (`sqlite:///dgarchive.sqlite`; the command
    fills it from `--db` / `DGARCHIVE_DB`), `DB_BATCH_SIZE` (200), `DB_WRITER` (`process`
    or `thread`), `DB_TOWNS` (the configured towns, which name new town and column rows;
    the crawler's settings fill it from its town configuration), `CRAWL_RUN_ID` (the run's
    id, a new uuid4 when unset), `FROZEN_HEAP` and `FROZEN_HEAP_THRESHOLD` (a writer
    process freezes its heap once the store is open: `pipelines.heap`).

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
        towns: Iterable[TownLike] = (),
        stats: Any = None,
        stop_crawl: Callable[[str], None] | None = None,
        writer: str = "process",
        frozen_heap: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"DB_BATCH_SIZE must be >= 1, got {batch_size}")
        if writer not in ("process", "thread"):
            raise ValueError(f"DB_WRITER must be process or thread, got {writer!r}")
        self.db_url = db_url
        self.batch_size = batch_size
        self.run_id = run_id or str(uuid.uuid4())
        self.run_args = run_args or {}
        self.towns = tuple(towns)  # name the town and column rows new records create
        self.stats = stats
        self.stop_crawl = stop_crawl
        self.writer = writer
        self.frozen_heap = frozen_heap  # the writer process's gc threshold, or None
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
            towns=settings.get("DB_TOWNS") or (),
            frozen_heap=(
                settings.getint("FROZEN_HEAP_THRESHOLD", DEFAULT_THRESHOLD)
                if settings.getbool("FROZEN_HEAP", True)
                else None
            ),
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
            # `dgarchive crawl` started it early (pipelines.writerboot), else a new one.
            self._executor = writerboot.take(self.db_url) or writerboot.new_writer_process()
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
            await self._in_worker("writer_open", token, self.db_url, self.run_id, args, self.towns)
        except BaseException as exc:
            self._shutdown()
            if isinstance(exc, BrokenExecutor):
                raise DatabaseError(f"database writer failed to start: {exc}") from None
            raise
        self._token = token
        if self.writer == "process" and self.frozen_heap is not None:
            # The store is open, its imports done: freeze the writer's heap (not awaited;
            # the one writer runs its tasks in order, before the first batch).
            self._executor.submit(freeze_heap, self.frozen_heap)

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
            await self._in_worker("writer_finish", token, self.run_id, status, counters)
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
        fut = self._executor.submit(writerboot.call, "writer_save", self._token, batch, self.run_id)
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
        from pipelines.store.failures import translate_error
        from pipelines.store.writerprocess import STORE_ERRORS

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
        for record in records:
            url = record.get("url") if isinstance(record, dict) else None
            if url:
                record_failure(stats, str(url), f"not stored: {error}")

    def _inc(self, key: str, n: int) -> None:
        if self.stats is not None and n:
            self.stats.inc_value(key, n)

    async def _in_worker(self, name: str, *args: Any) -> Any:
        """`pipelines.store.writerprocess.<name>(*args)`, run by the writer."""
        if self._executor is None:
            return writerboot.call(name, *args)
        fut = self._executor.submit(writerboot.call, name, *args)
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
