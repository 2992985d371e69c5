"""The Scrapy side of a distributed crawl: scrapy-redis's scheduler with leases, seeding once,
heartbeats and the idle exit. `configure()` wires them in.

scrapy-redis pops a request and forgets it; `LeasingScheduler` pops it into a lease
(crawler/distributed/frontier.py) that is dropped once the request's callback output is
queued (`LeaseRelease`, crawler/distributed/parents.py), when it goes back to the queue as
a retry or redirect, or when this worker is idle (then nothing of it is in flight).
`Coordinator` keeps this worker's heartbeat, gives dead workers' leases back, and closes the
worker once the whole run has been idle for DISTRIBUTED_IDLE_EXIT seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.scheduler import Scheduler

from crawler.distributed.budget import SLOT
from crawler.distributed.frontier import Frontier, FrontierError, shown
from pipelines.database import DatabasePipeline

log = logging.getLogger(__name__)

LEASE = "dgarchive_lease"
PARENT = "dgarchive_parent_lease"  # on a request yielded by a leased response's callback
REASON_FRONTIER_LOST = "db_frontier_lost"  # exit 5, with a message naming Redis


def configure(settings: Any, frontier: Frontier) -> None:
    """Point Scrapy at the run's keys in Redis and enable the components."""
    settings.setdict(
        {
            "SCHEDULER": "crawler.distributed.components.LeasingScheduler",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
            # The keys Frontier.push_unseen writes to, from the same Frontier.key.
            "SCHEDULER_QUEUE_KEY": frontier.key("queue"),
            "SCHEDULER_DUPEFILTER_KEY": frontier.key("dupefilter"),
            "SCHEDULER_PERSIST": True,  # other workers still use the queue
            "REDIS_URL": frontier.url,
            "DISTRIBUTED_WORKER_ID": frontier.worker_id,
            "DISTRIBUTED_RUN_ID": frontier.run_id,
        },
        priority="cmdline",
    )
    spider_mw = dict(settings.getdict("SPIDER_MIDDLEWARES"))
    spider_mw["crawler.distributed.components.LeaseRelease"] = 1  # outermost: sees the end
    settings.set("SPIDER_MIDDLEWARES", spider_mw, priority="cmdline")
    download_mw = dict(settings.getdict("DOWNLOADER_MIDDLEWARES"))
    download_mw["crawler.distributed.budget.HostBudget"] = 960  # right before the download
    settings.set("DOWNLOADER_MIDDLEWARES", download_mw, priority="cmdline")
    if settings.getbool("DISTRIBUTED_HOST_BUDGET", True) and settings.getbool(
        "AUTOTHROTTLE_ENABLED"
    ):
        # AutoThrottle's delay becomes the run's (HostBudget keeps it in Redis): a worker's
        # own AutoThrottle would aim at its target concurrency alone, N workers at N times it.
        settings.set("DISTRIBUTED_AUTOTHROTTLE", True, priority="cmdline")
        settings.set("AUTOTHROTTLE_ENABLED", False, priority="cmdline")
    pipelines = dict(settings.getdict("ITEM_PIPELINES"))
    order = pipelines.pop("pipelines.database.DatabasePipeline", None)
    if order is not None:
        pipelines["crawler.distributed.components.LeasedDatabasePipeline"] = order
        settings.set("ITEM_PIPELINES", pipelines, priority="cmdline")
    extensions = dict(settings.getdict("EXTENSIONS"))
    extensions["crawler.distributed.components.Coordinator"] = 50
    settings.set("EXTENSIONS", extensions, priority="cmdline")
    _FRONTIERS[frontier.worker_id] = frontier


# One Frontier per worker process, shared by the components (they are built by Scrapy).
_FRONTIERS: dict[str, Frontier] = {}


def frontier_of(crawler: Any) -> Frontier:
    return _FRONTIERS[crawler.settings.get("DISTRIBUTED_WORKER_ID")]


class LeasingScheduler(Scheduler):
    """scrapy-redis's scheduler whose pop is a lease (no request lost with its worker)."""

    frontier: Frontier

    @classmethod
    def from_crawler(cls, crawler: Any) -> LeasingScheduler:
        instance = super().from_crawler(crawler)
        instance.frontier = frontier_of(crawler)
        return instance

    def enqueue_request(self, request: Any) -> bool:
        # A retry or redirect of a leased request carries its lease: once it is queued
        # again (or filtered as a duplicate), the old lease has done its job.
        import redis

        lease = request.meta.pop(LEASE, None)
        parent = request.meta.pop(PARENT, None)
        request.meta.pop(SLOT, None)
        queued = False
        try:
            # scrapy-redis's enqueue_request, without its deprecated stats argument, and
            # with the duplicate check and the push one step in Redis (Frontier.push_unseen).
            if request.dont_filter:
                self.queue.push(request)
            elif not self.frontier.push_unseen(
                self.df.request_fingerprint(request),
                -request.priority,
                self.queue._encode_request(request),
            ):
                self.df.log(request, self.spider)
                queued = True  # as good as queued: it was, once
                return False
            if self.stats:
                self.stats.inc_value("scheduler/enqueued/redis")
            queued = True
            return True
        except redis.RedisError as exc:
            # Not queued: the parent's lease stays, so the parent is fetched again once
            # this worker is gone (the Coordinator stops it) and Redis is back.
            log.error("could not queue %s: the frontier Redis failed: %s", request.url, exc)
            lease = None
            return False
        finally:
            if parent:
                self.frontier.parents.queued(parent, ok=queued)
            if lease:
                self.frontier.release(lease)

    def next_request(self) -> Any:
        import redis

        try:
            got = self.frontier.pop_lease()
        except redis.RedisError:
            return None  # the Coordinator's next beat sees it and stops the worker
        if got is None:
            return None
        lease, data = got
        request = self.queue._decode_request(data)
        request.meta[LEASE] = lease
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request


class LeaseRelease:
    """Drops a request's lease once its callback's output has all been queued."""

    def __init__(self, crawler: Any) -> None:
        self.frontier = frontier_of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> LeaseRelease:
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The first worker of a run seeds it, under a Redis lock; the others join."""
        from scrapy.utils.defer import deferred_to_future
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        lock = self.frontier.seed_lock()
        while not lock.acquire(blocking=False):
            if self.frontier.seeded():
                return
            await deferred_to_future(deferLater(reactor, 0.2, lambda: None))
        try:
            if self.frontier.seeded():
                log.info("joining run %s: already seeded", self.frontier.run_id)
                return
            log.info("seeding run %s as worker %s", self.frontier.run_id, self.frontier.worker_id)
            async for request in start:
                yield request
            self.frontier.mark_seeded()
        finally:
            lock.release()

    def process_spider_output(
        self, response: Any, result: Iterable[Any], spider: Any = None
    ) -> Iterable[Any]:
        stored = False
        for item in result:
            stored = self._hand_over(response, item) or stored
            yield item
        self._release(response, stored)

    async def process_spider_output_async(
        self, response: Any, result: AsyncIterator[Any], spider: Any = None
    ) -> AsyncIterator[Any]:
        stored = False
        async for item in result:
            stored = self._hand_over(response, item) or stored
            yield item
        self._release(response, stored)

    def _hand_over(self, response: Any, item: Any) -> bool:
        """A record goes to the database: its lease is the database pipeline's to drop, once
        the batch holding it is committed (a killed worker's unwritten batch is not lost). A
        request is counted against the lease (`ParentLeases`) until the scheduler queued it."""
        lease = response.request.meta.get(LEASE) if response.request is not None else None
        if not lease:
            return False
        if isinstance(item, Request):
            item.meta[PARENT] = lease
            self.frontier.parents.child(lease)
            return False
        if isinstance(item, dict) and item.get("url"):
            self.frontier.awaiting_store[item["url"]] = lease
            return True
        return False

    def _release(self, response: Any, stored: bool = False) -> None:
        lease = response.request.meta.pop(LEASE, None) if response.request else None
        if lease:
            self.frontier.parents.yielded_all(lease, release=not stored)


class LeasedDatabasePipeline(DatabasePipeline):
    """The database pipeline that drops a record's lease once its batch is committed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frontier: Frontier | None = None
        self._buffer_leases: list[str] = []
        self.held: set[str] = set()  # leases of records not committed yet

    @classmethod
    def from_crawler(cls, crawler: Any) -> LeasedDatabasePipeline:
        pipeline = super().from_crawler(crawler)
        pipeline.frontier = frontier_of(crawler)
        pipeline.frontier.pipeline = pipeline
        return pipeline

    def flush(self) -> set[str]:
        """Submit the buffered records now (the worker is idle); the leases still held."""
        self._submit()
        return set(self.held)

    async def process_item(self, item: Any) -> Any:
        frontier = self.frontier
        lease = None
        if frontier is not None and isinstance(item, dict) and item.get("url"):
            lease = frontier.awaiting_store.pop(item["url"], None)
        if lease is not None:
            if self.store_open and self.failed is None:
                self._buffer_leases.append(lease)
                self.held.add(lease)
            elif self.failed is None:
                frontier.release(lease)  # --no-db: nothing to wait for
        return await super().process_item(item)

    async def _in_worker(self, name: str, *args: Any) -> Any:
        frontier = self.frontier
        if name == "writer_open" and frontier is not None:
            # Registered in the run's row as running until it ends (pipelines/store/runs.py).
            token, db_url, run_id, run_args, towns = args
            args = (token, db_url, run_id, run_args, towns, frontier.worker_id)
        elif name == "writer_finish" and frontier is not None:
            # The run's row sums every worker's counters rather than keeping the last one
            # to finish; the workers gone without ending (killed) are marked lost there.
            token, run_id, status, counters = args
            try:
                if status == "finished":  # the run's idle end: let killed peers expire
                    await self._peers_settled(frontier)
                gone = frontier.gone_workers()
            except Exception as exc:  # noqa: BLE001 - Redis gone: the others stay as they are
                log.warning("could not list the run's workers: %s", exc)
                gone = []
            counters = {**counters, "worker_id": frontier.worker_id, "lost_workers": gone}
            args = (token, run_id, status, counters)
        return await super()._in_worker(name, *args)

    @staticmethod
    async def _peers_settled(frontier: Frontier) -> None:
        """Wait until every other worker of the run has ended, said it is ending, or lost its
        heartbeat (at most one heartbeat TTL). A worker killed holding no lease leaves
        nothing to requeue, so its peers can reach the idle end before its heartbeat
        expires; without this wait the last of them would leave it `running` in the run's
        row, and the run with it, for good."""
        from scrapy.utils.defer import deferred_to_future
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        frontier.ending()
        deadline = time.monotonic() + frontier.heartbeat_ttl + 1.0
        while frontier.unsettled_peers() and time.monotonic() < deadline:
            await deferred_to_future(deferLater(reactor, 0.25, lambda: None))

    def _submit(self) -> None:
        pending = len(self._pending)
        super()._submit()
        if len(self._pending) > pending and self._buffer_leases:
            leases, self._buffer_leases = self._buffer_leases, []
            fut = self._pending[-1][0]
            frontier = self.frontier

            def committed(done: Any) -> None:
                self.held.difference_update(leases)
                if frontier is not None and not done.cancelled() and done.exception() is None:
                    try:
                        frontier.release(*leases)
                    except Exception as exc:  # noqa: BLE001 - leases stay: fetched again
                        log.warning("could not drop %d leases: %s", len(leases), exc)

            fut.add_done_callback(committed)


class Coordinator:
    """Heartbeat, dead workers' leases back to the queue, and the run-wide idle exit."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.frontier = frontier_of(crawler)
        self.idle_exit = crawler.settings.getfloat("DISTRIBUTED_IDLE_EXIT", 10.0)
        self.interval = crawler.settings.getfloat("DISTRIBUTED_HEARTBEAT", 2.0)
        self.idle_since: float | None = None
        self.finished = False
        self._loop: Any = None
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Coordinator:
        return cls(crawler)

    def spider_opened(self, spider: Any) -> None:
        from twisted.internet.task import LoopingCall

        self.crawler.stats.set_value("distributed/worker_id", self.frontier.worker_id)
        self.crawler.stats.set_value("distributed/run_id", self.frontier.run_id)
        self._loop = LoopingCall(self.beat)
        self._loop.start(self.interval, now=True)

    def beat(self) -> None:
        import redis

        try:
            self.frontier.heartbeat()
            back = self.frontier.requeue_dead()
        except redis.RedisError as exc:
            self._lost(exc)
            return
        if back:
            log.warning("%d requests of dead workers put back in the frontier", back)
            self.crawler.stats.inc_value("distributed/requeued", back)

    def _lost(self, exc: BaseException) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        log.error("the frontier Redis at %s is unreachable: %s", shown(self.frontier.url), exc)
        self.crawler.stats.set_value("distributed/error", f"frontier Redis unreachable: {exc}")
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None)
        if engine is None or engine.spider is None or getattr(slot, "closing", None) is not None:
            return
        from scrapy.utils.defer import deferred_from_coro
        from twisted.internet import reactor

        reactor.callLater(
            0, lambda: deferred_from_coro(engine.close_spider_async(reason=REASON_FRONTIER_LOST))
        )

    def spider_idle(self, spider: Any) -> None:
        import redis

        try:
            # Idle: nothing of this worker is in flight but records not yet committed.
            pipeline = getattr(self.frontier, "pipeline", None)
            self.frontier.release_mine(keep=pipeline.flush() if pipeline is not None else ())
            busy = self.frontier.queued() or self.frontier.in_flight() or not self.frontier.seeded()
        except redis.RedisError as exc:
            self._lost(exc)
            return
        now = time.monotonic()
        if busy:
            self.idle_since = None
        elif self.idle_since is None:
            self.idle_since = now
        if self.idle_since is not None and now - self.idle_since >= self.idle_exit:
            self.finished = True
            return  # let the worker close: the run has been idle long enough
        # Look again soon rather than at the engine's 5 s heartbeat.
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None:
            slot.nextcall.schedule(min(1.0, self.interval))
        raise DontCloseSpider

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        try:
            if self.finished:
                self.frontier.finish()
            self.frontier.leave()
        except FrontierError:
            pass
        except Exception as exc:  # noqa: BLE001 - Redis gone at the end: already reported
            log.debug("leaving the frontier failed: %s", exc)
