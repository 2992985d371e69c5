"""The shared state of a distributed crawl on a real Redis (crawler/distributed/frontier.py),
and the run locks' shared mode: leases, dead workers, seeding, the host budget, run ids."""

from __future__ import annotations

import threading
import time

import pytest

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
