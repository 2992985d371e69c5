"""The shared state of a distributed crawl on a real Redis (crawler/distributed/frontier.py),
and the run locks' shared mode: leases, dead workers, seeding, the host budget, run ids."""

from __future__ import annotations

import threading
import time

import pytest

from crawler.distributed.components import LEASE, PARENT, LeaseRelease
from crawler.distributed.frontier import Frontier, FrontierHeld
from crawler.runlock import LockHeldError, RunLock
from tests.redisserver import RedisServer

SELECTION = {"towns": ["houjie"], "columns": [], "site_root": "http://x/", "full": False}


@pytest.fixture
def redis_url(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server.url
    server.stop()


def worker(url, ttl=1.0):
    f = Frontier(url, heartbeat_ttl=ttl)
    f.join("db", SELECTION)
    return f


def test_workers_of_one_selection_join_one_run_and_another_selection_is_refused(redis_url):
    a, b = worker(redis_url), worker(redis_url)
    assert a.run_id == b.run_id and a.worker_id != b.worker_id
    other = Frontier(redis_url)
    with pytest.raises(FrontierHeld) as held:
        other.join("db", {**SELECTION, "towns": ["humen"]})
    assert a.run_id in str(held.value)
    # Once the run is finished, the same selection starts a new run.
    a.finish()
    assert worker(redis_url).run_id != a.run_id


def test_a_killed_workers_leases_go_back_to_the_queue(redis_url):
    a, b = worker(redis_url, ttl=0.5), worker(redis_url, ttl=0.5)
    for i in range(3):
        a.redis.zadd(a.key("queue"), {f"req{i}".encode(): i})
    leased = [a.pop_lease() for _ in range(2)]
    assert [d for _, d in leased] == [b"req0", b"req1"]
    assert a.queued() == 1 and a.in_flight() == 2
    b.heartbeat()
    assert b.requeue_dead() == 0  # a is alive
    time.sleep(0.7)  # a stops beating: "killed"
    b.heartbeat()
    assert b.requeue_dead() == 2
    assert a.in_flight() == 0
    assert sorted(a.redis.zrange(a.key("queue"), 0, -1)) == [b"req0", b"req1", b"req2"]


def test_peers_not_ending_with_a_live_heartbeat_are_unsettled(redis_url):
    a, b, c = (worker(redis_url, ttl=0.5) for _ in range(3))
    assert sorted(a.unsettled_peers()) == sorted([b.worker_id, c.worker_id])
    b.ending()  # b says it ends: a need not wait for it
    assert a.unsettled_peers() == [c.worker_id]
    time.sleep(0.7)  # c stops beating ("killed"): its heartbeat expires
    a.heartbeat()
    assert a.unsettled_peers() == []
    assert c.worker_id in a.gone_workers()


def test_released_and_idle_leases_are_dropped_not_requeued(redis_url):
    a = worker(redis_url)
    for i in range(3):
        a.redis.zadd(a.key("queue"), {f"r{i}".encode(): i})
    first, _ = a.pop_lease()
    a.pop_lease()
    a.release(first)
    assert a.in_flight() == 1
    assert a.release_mine() == 1
    assert a.in_flight() == 0 and a.queued() == 1


def test_the_host_budget_holds_across_workers(redis_url):
    workers = [worker(redis_url) for _ in range(3)]
    active, peak, lock = [0], [0], threading.Lock()

    def fetch(f):
        for _ in range(5):
            while True:
                token, wait = f.take_slot("h", 2, 0.0, 30)
                if token:
                    break
                time.sleep(wait)
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.02)
            with lock:
                active[0] -= 1
            f.free_slot("h", token)

    threads = [threading.Thread(target=fetch, args=(f,)) for f in workers for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert peak[0] == 2


def test_the_host_delay_spaces_starts_across_workers(redis_url):
    a, b = worker(redis_url), worker(redis_url)
    assert a.take_slot("h", 10, 0.3, 30)[0]
    token, wait = b.take_slot("h", 10, 0.3, 30)
    assert token is None and 0 < wait <= 0.3


def test_shared_run_locks_admit_one_run_and_refuse_a_single_crawl(tmp_path):
    path = tmp_path / ".dgarchive.lock"
    with RunLock(path, run_id="r1", shared=True), RunLock(path, run_id="r1", shared=True):
        with pytest.raises(LockHeldError):
            RunLock(path, run_id="r2", shared=True).acquire()
        with pytest.raises(LockHeldError) as exc:
            RunLock(path, run_id="solo").acquire()
        assert "run r1" in str(exc.value)
    with RunLock(path, run_id="solo"):
        with pytest.raises(LockHeldError):
            RunLock(path, run_id="r1", shared=True).acquire()
    assert path.read_text() == ""  # the last one out leaves it empty


def test_autothrottle_delay_is_one_per_host_for_all_workers(redis_url):
    """AutoThrottle's rule on one delay in Redis: every worker's answers move it, and every
    worker's next start waits for it (N workers aim at the target concurrency together)."""
    a, b = worker(redis_url), worker(redis_url)
    bounds = (0.0, 30.0, 1.0)  # min, max, start
    # From the start delay (1 s) half way to latency / target (0.2 / 1) per answer.
    assert a.adjust_delay("h", 0.2, 1.0, bounds, ok=True) == pytest.approx(0.6)
    assert b.adjust_delay("h", 0.2, 1.0, bounds, ok=True) == pytest.approx(0.4)
    # An error answer never lowers it; a slow one raises it for everyone.
    assert a.adjust_delay("h", 0.1, 1.0, bounds, ok=False) == pytest.approx(0.4)
    assert b.adjust_delay("h", 2.0, 2.0, bounds, ok=True) == pytest.approx(1.0)
    assert a.host_delays() == {"h": 1.0}
    # The shared delay, not the fixed one (0), spaces the starts of both workers.
    assert a.take_slot("h", 10, 0.0, 30, adaptive=True)[0]
    token, wait = b.take_slot("h", 10, 0.0, 30, adaptive=True)
    assert token is None and 0.5 < wait <= 1.0
    # Bounded: never under the minimum (the fixed delay) nor over AUTOTHROTTLE_MAX_DELAY.
    assert a.adjust_delay("h", 0.0, 1.0, (0.25, 30.0, 1.0), ok=True) >= 0.25
    assert a.adjust_delay("h", 500.0, 1.0, bounds, ok=True) == pytest.approx(30.0)


def test_the_run_reads_running_until_every_worker_ended_and_a_killed_one_is_lost(db_url):
    """Each worker registers in the run's row when it starts: the run stays `running` (no
    `finished_at`) until the last registered worker ended, and a worker gone without ending
    (named by a peer that saw its heartbeat expire) becomes `lost`, and so does the run."""
    from sqlalchemy.orm import Session

    from pipelines.store import RecordStore, ensure_schema, make_engine
    from pipelines.store.models import CrawlRun

    engine = make_engine(db_url)
    ensure_schema(engine)
    store = RecordStore(engine)

    def row() -> CrawlRun:
        with Session(engine) as s:
            return s.get(CrawlRun, "run-2")

    for worker in ("w0", "w1", "w2"):
        store.start_run("run-2", {"spider": "town_news"}, worker=worker)
    assert row().status == "running"
    assert {w: e["status"] for w, e in row().counters["workers"].items()} == {
        "w0": "running", "w1": "running", "w2": "running"}  # fmt: skip
    # w0 ends, naming w2 gone (its heartbeat expired); w1 still runs, so the run does.
    store.finish_run("run-2", "finished", {"new_articles": 5, "worker_id": "w0",
                     "lost_workers": ["w2"]})  # fmt: skip
    run = row()
    assert run.status == "running" and run.finished_at is None
    assert run.counters["workers"]["w2"]["status"] == "lost"
    assert run.counters["workers"]["w1"]["status"] == "running"
    # A start retried after the worker's end changes nothing.
    store.start_run("run-2", {"spider": "town_news"}, worker="w0")
    assert row().counters["workers"]["w0"]["status"] == "finished"
    # The last one ends, naming w0 gone too (it left after ending): w0 stays finished.
    store.finish_run("run-2", "finished", {"new_articles": 7, "worker_id": "w1",
                     "lost_workers": ["w0", "w2"]})  # fmt: skip
    run = row()
    assert {w: e["status"] for w, e in run.counters["workers"].items()} == {
        "w0": "finished", "w1": "finished", "w2": "lost"}  # fmt: skip
    assert run.counters["new_articles"] == 12  # the lost worker's counts are unknown
    assert run.status == "lost"
    assert run.finished_at is not None and run.started_at <= run.finished_at
    # Without a lost worker the run is finished once its last worker is.
    for worker in ("a", "b"):
        store.start_run("run-3", None, worker=worker)
    store.finish_run("run-3", "finished", {"new_articles": 1, "worker_id": "a"})
    with Session(engine) as s:
        assert s.get(CrawlRun, "run-3").status == "running"
    store.finish_run("run-3", "finished", {"new_articles": 1, "worker_id": "b"})
    with Session(engine) as s:
        assert s.get(CrawlRun, "run-3").status == "finished"
    engine.dispose()


def test_workers_finishing_at_once_sum_into_one_run_row(db_url):
    """Each worker's counters go into the run's row under a row lock: the totals are the sums,
    the last finish is kept, and a worker that failed marks the run."""
    from pipelines.store import RecordStore, ensure_schema, make_engine
    from pipelines.store.models import CrawlRun

    engine = make_engine(db_url)
    ensure_schema(engine)
    stores = [RecordStore(make_engine(db_url)) for _ in range(3)]
    stores[0].start_run("run-1", {"spider": "town_news"})
    stores[1].start_run("run-1", {"spider": "town_news"})
    barrier = threading.Barrier(3)
    errors = []

    def finish(i):
        try:
            barrier.wait(30)
            status = "database_error" if i == 2 else "finished"
            stores[i].finish_run("run-1", status, {"new_articles": 10 * (i + 1),
                                 "unchanged_articles": 1, "worker_id": f"w{i}"})  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=finish, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    # The same worker finishing again (a retried close) is not counted twice.
    stores[1].finish_run("run-1", "finished", {"new_articles": 20, "unchanged_articles": 1,
                         "worker_id": "w1"})  # fmt: skip
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        run = s.get(CrawlRun, "run-1")
        assert run.counters["new_articles"] == 60
        assert run.counters["unchanged_articles"] == 3
        assert sorted(run.counters["workers"]) == ["w0", "w1", "w2"]
        assert run.counters["workers"]["w2"]["status"] == "database_error"
        assert run.status == "database_error"
        assert run.finished_at is not None and run.started_at <= run.finished_at
    for each in stores:
        each.engine.dispose()
    engine.dispose()


def test_workers_of_one_run_starting_at_once_all_share_the_archive_lock(tmp_path):
    """Taking the lock shared goes through a moment of holding it exclusive (flock converts
    by dropping, then taking): a worker of the same run caught in that gap waits, it is not
    refused (seen in the scaling bench: 4 workers started together, one exited 3)."""
    for attempt in range(20):
        path = tmp_path / f"lock{attempt}"
        barrier = threading.Barrier(6)
        locks, errors = [], []

        def take(path=path, barrier=barrier, locks=locks, errors=errors):
            barrier.wait(30)
            try:
                locks.append(RunLock(path, run_id="r1", shared=True).acquire())
            except LockHeldError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=take) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert len(locks) == 6
        for lock in locks:
            lock.release()
        assert path.read_text() == ""


def leasing(redis_url):
    """A worker's frontier with its lease bookkeeping, and its LeaseRelease middleware."""
    a = worker(redis_url)
    release = LeaseRelease.__new__(LeaseRelease)
    release.frontier = a
    return a, release


def _leased_response(frontier, data=b"list"):
    from scrapy.http import HtmlResponse, Request

    frontier.redis.zadd(frontier.key("queue"), {data: 0})
    lease, _ = frontier.pop_lease()
    request = Request("http://x/houjie/cjjs/tshj/index_7.html", meta={LEASE: lease})
    return lease, HtmlResponse(request.url, body=b"<html></html>", request=request)


def test_a_list_pages_lease_stays_until_every_request_it_yielded_is_queued(redis_url):
    """Scrapy queues a callback's requests after the callback's generator has ended: the
    lease of the page that yielded them must outlive that, or a worker killed (or a Redis
    gone) in between loses them for good."""
    from scrapy.http import Request

    a, release = leasing(redis_url)
    lease, response = _leased_response(a)
    children = [Request(f"http://x/houjie/cjjs/tshj/content/post_{i}.html") for i in (1, 2)]
    assert list(release.process_spider_output(response, iter(children))) == children
    assert a.in_flight() == 1  # the generator ended; its requests are not queued yet
    assert [c.meta[PARENT] for c in children] == [lease, lease]
    a.parents.queued(children[0].meta[PARENT], ok=True)
    assert a.in_flight() == 1
    a.parents.queued(children[1].meta[PARENT], ok=True)
    assert a.in_flight() == 0


def test_a_request_that_could_not_be_queued_keeps_its_parents_lease(redis_url):
    from scrapy.http import Request

    a, release = leasing(redis_url)
    lease, response = _leased_response(a)
    children = [Request(f"http://x/post_{i}.html") for i in (1, 2)]
    list(release.process_spider_output(response, iter(children)))
    a.parents.queued(lease, ok=False)  # Redis failed for this one
    a.parents.queued(lease, ok=True)
    assert a.in_flight() == 1  # fetched again once this worker is gone: nothing lost
    assert not a.parents.pending  # nothing left to track


def test_a_record_hands_the_lease_to_the_database_pipeline_not_to_its_requests(redis_url):
    from scrapy.http import Request

    a, release = leasing(redis_url)
    lease, response = _leased_response(a)
    requisite = Request("http://x/images/1.jpg")
    record = {"url": "https://www.dg.gov.cn/houjie/x/content/post_1.html"}
    list(release.process_spider_output(response, iter([record, requisite])))
    a.parents.queued(requisite.meta[PARENT], ok=True)
    assert a.in_flight() == 1  # the pipeline drops it once the record is committed
    assert a.awaiting_store[record["url"]] == lease


def _leasing_scheduler(frontier):
    """A worker's LeasingScheduler on the run's real queue and duplicate filter in Redis,
    with the keys `configure()` gives it."""
    from scrapy import Spider
    from scrapy_redis.dupefilter import RFPDupeFilter

    from crawler.distributed.components import LeasingScheduler

    scheduler = LeasingScheduler(
        frontier.redis,
        persist=True,
        queue_key=frontier.key("queue"),
        queue_cls="scrapy_redis.queue.PriorityQueue",
        dupefilter=RFPDupeFilter(frontier.redis, key=frontier.key("dupefilter")),
    )
    scheduler.frontier = frontier
    scheduler.stats = None
    scheduler.open(Spider("t"))
    return scheduler


# scrapy-redis's own open() logs "Resuming crawl" through the deprecated Spider.log.
@pytest.mark.filterwarnings("ignore:Spider.log\\(\\) is deprecated")
def test_a_request_is_marked_seen_only_together_with_its_queueing(redis_url):
    """The duplicate filter's mark and the queue's entry are one step in Redis. When they
    were two, a worker killed between them (here: the push failing after the mark) left the
    request seen, so filtered wherever it was yielded again, and never queued: an article of
    a list page fetched again after its worker died was never fetched."""
    from scrapy.http import Request

    a = worker(redis_url)
    scheduler = _leasing_scheduler(a)
    request = Request("http://x/houjie/cjjs/tshj/content/post_1.html")

    def killed(_request):
        raise SystemExit("killed")

    scheduler.queue.push = killed  # the worker dies at scrapy-redis's push
    try:
        scheduler.enqueue_request(request)
    except SystemExit:
        pass
    marked = a.redis.sismember(a.key("dupefilter"), scheduler.df.request_fingerprint(request))
    assert not marked or a.queued() == 1  # never seen without being queued
    again = _leasing_scheduler(a)  # another worker meets the request again
    again.enqueue_request(Request(request.url))
    assert a.queued() == 1  # queued once, by whichever got it first
    assert again.enqueue_request(Request(request.url)) is False  # and filtered after that
