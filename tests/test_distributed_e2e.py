"""End to end: several `dgarchive crawl --frontier` workers (real processes) on a real Redis and
a real PostgreSQL, crawling the mirror: one killed with SIGKILL loses nothing, each article is
fetched and stored once, and the per-host budget holds across the workers."""

from __future__ import annotations

import collections
import json
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.e2e import REPO, _env, crawl_mirror, dgarchive, start_crawl, warc_files
from tests.mocksite import MockSite
from tests.redisserver import RedisServer

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

FAST = ["-s", "DISTRIBUTED_HEARTBEAT=0.5", "-s", "DISTRIBUTED_HEARTBEAT_TTL=3"]


class CountingSite(MockSite):
    """The mirror, answering after `latency` seconds and counting requests served at once."""

    def __init__(self, latency: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.latency = latency
        self.active = 0
        self.peak = 0
        self.spans: list[tuple[float, float]] = []  # (start, end) of each request served
        self._count_lock = threading.Lock()

    def _resource(self, path: str):
        with self._count_lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        start = time.monotonic()
        try:
            if self.latency:
                time.sleep(self.latency)
            return super()._resource(path)
        finally:
            with self._count_lock:
                self.active -= 1
                self.spans.append((start, time.monotonic()))

    def mean_concurrency(self) -> float:
        """Requests in flight on average from the first start to the last end."""
        busy = sum(end - start for start, end in self.spans)
        return busy / (max(e for _, e in self.spans) - min(s for s, _ in self.spans))


@pytest.fixture
def redis_url(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server.url
    server.stop()


def records(export: str) -> dict[str, dict]:
    out = {}
    for line in export.splitlines():
        if line.strip():
            rec = json.loads(line)
            rec.pop("capture", None)
            rec.pop("replay_url", None)  # the capture's time and fetch URL: this crawl's
            rec.pop("article_id", None)  # a surrogate key: the order this database stored them
            out[rec["url"]] = rec
    return out


def differences(got: dict[str, dict], expected: dict[str, dict]) -> str:
    """What a failed comparison of two `records` maps needs to be read: the URLs missing or
    extra, and for the others the fields that differ (pytest's diff of 2,000 records shows
    only their tail)."""
    missing = sorted(expected.keys() - got.keys())
    extra = sorted(got.keys() - expected.keys())
    fields = {
        url: {k: (got[url].get(k), expected[url].get(k))
              for k in got[url].keys() | expected[url].keys()
              if got[url].get(k) != expected[url].get(k) and k not in ("text", "interview")}
        | {k: "differs" for k in ("text", "interview")
           if got[url].get(k) != expected[url].get(k)}
        for url in sorted(got.keys() & expected.keys())
        if got[url] != expected[url]
    }  # fmt: skip
    return f"missing {missing[:20]} ({len(missing)}); extra {extra[:20]} ({len(extra)}); " + (
        f"differing fields (got, expected) {dict(list(fields.items())[:10])} ({len(fields)})"
    )


def worker(site, tmp_path, db, redis_url, n, *extra):
    return start_crawl(
        site.url, tmp_path / "archive", db, "--frontier", redis_url, "--idle-exit", "4",
        "--report", str(tmp_path / f"report{n}.json"), *FAST, *extra,
    )  # fmt: skip


def finish(procs, timeout=600):
    out = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            stdout, stderr = p.communicate()
        out.append((p.returncode, stderr))
    return out


@pytest.fixture
def big_site():
    site = CountingSite(articles=2000, per_page=20).start()
    yield site
    site.stop()


def run_row(db_url: str) -> dict:
    """The one `crawl_runs` row of the database."""
    from sqlalchemy import text

    from pipelines.store import make_engine

    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, started_at, finished_at, counters "
                                 "FROM crawl_runs")).mappings().all()  # fmt: skip
    engine.dispose()
    assert len(rows) == 1, rows
    run = dict(rows[0])
    if not isinstance(run["counters"], dict):
        run["counters"] = json.loads(run["counters"])
    return run


def test_three_workers_one_killed_lose_nothing_and_match_a_single_crawl(
    big_site, redis_url, pg_database_url, tmp_path
):
    site = big_site
    single = tmp_path / "single"
    one = crawl_mirror(site.url, single / "archive", f"sqlite:///{single / 'db.sqlite'}")
    assert one.returncode == 0, one.stderr[-3000:]
    expected = records(dgarchive("export", "--db", f"sqlite:///{single / 'db.sqlite'}").stdout)
    assert len(expected) > 1900
    site.reset_log()

    procs = [worker(site, tmp_path, pg_database_url, redis_url, n) for n in range(3)]
    try:
        # Kill one worker in the middle of the crawl, while it has requests in flight.
        deadline = time.monotonic() + 300
        while len(site.requests_log) < 800 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert procs[1].poll() is None, "the crawl ended before the kill"
        procs[1].send_signal(signal.SIGKILL)
        results = finish(procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert results[1][0] == -signal.SIGKILL
    for rc, stderr in (results[0], results[2]):
        assert rc == 0, stderr[-3000:]

    export = dgarchive("export", "--db", pg_database_url)
    assert export.returncode == 0, export.stderr
    got = records(export.stdout)
    assert got == expected, differences(got, expected)  # same articles, same fields

    fetched = collections.Counter(path for method, path, _ in site.requests_log if method == "GET")
    articles = [p for p, n in fetched.items() if "/content/" in p]
    again = {p: n for p, n in fetched.items() if n > 1 and "/content/" in p}
    assert len(articles) >= len(expected)

    reports = [json.loads((tmp_path / f"report{n}.json").read_text()) for n in (0, 2)]
    assert len({r["run_id"] for r in reports}) == 1
    merged = dgarchive("run-report", "--frontier", redis_url)
    assert merged.returncode == 0, merged.stderr
    summary = json.loads(merged.stdout)
    assert summary["workers"] == 2 and summary["run_id"] == reports[0]["run_id"]
    assert summary["host_budget"] == {
        "enabled": True, "concurrency": 8, "delay": 0.0, "autothrottle": None}  # fmt: skip
    # Fetched twice: at most the killed worker's leases (in flight, or parsed but not yet
    # committed to the database), which the others put back in the queue.
    assert 0 < summary["requeued"]
    assert len(again) <= summary["requeued"], (len(again), summary["requeued"])
    # The run's row: the two that ended finished, the killed one lost, and so the run.
    run = run_row(pg_database_url)
    statuses = sorted(e["status"] for e in run["counters"]["workers"].values())
    assert statuses == ["finished", "finished", "lost"], statuses
    assert run["status"] == "lost" and run["finished_at"] is not None
    assert all(n == 2 for n in again.values())

    files = warc_files(tmp_path / "archive")
    # Only the killed worker's last file is left `.open` (reindex/repair handles it).
    opened = [p.name for p in (tmp_path / "archive").iterdir() if p.name.endswith(".open")]
    assert len(opened) <= 1, opened
    names = {p.name for p in files}
    # `{prefix}-{worker id}-{17-digit UTC stamp}-{serial}-{host}`: a worker id holds a pid,
    # which may itself begin with "20", so the stamp is found by its shape, not by "-20".
    prefixes = {re.match(r"(.+)-\d{17}-\d{5}-", n).group(1) for n in names}
    assert len(prefixes) >= 2, prefixes  # worker ids in the names
    check = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", *map(str, files)],
        capture_output=True, text=True, cwd=REPO, env=_env(),
    )  # fmt: skip
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "a worker process is left behind"


def test_the_per_host_budget_holds_across_three_workers(redis_url, pg_database_url, tmp_path):
    site = CountingSite(latency=0.05, articles=120, per_page=20).start()
    try:
        procs = [
            worker(
                site,
                tmp_path,
                pg_database_url,
                redis_url,
                n,
                "-s",
                "DISTRIBUTED_HOST_CONCURRENCY=2",
            )
            for n in range(3)
        ]
        results = finish(procs)
    finally:
        site.stop()
    for rc, stderr in results:
        assert rc == 0, stderr[-3000:]
    assert len(site.requests_log) > 150
    assert site.peak == 2  # each worker alone would send 8 at once
    reports = [json.loads((tmp_path / f"report{n}.json").read_text()) for n in range(3)]
    assert sum(r["requests"] for r in reports) == len(site.requests_log)
    # The run's one row in the database sums the three workers (not the last one's alone).
    run = run_row(pg_database_url)
    assert run["id"] == reports[0]["run_id"]
    counters = run["counters"]
    assert len(counters["workers"]) == 3
    assert all(w["status"] == "finished" for w in counters["workers"].values())
    assert counters["new_articles"] == sum(r["new_articles"] for r in reports) > 100
    assert run["status"] == "finished" and run["started_at"] <= run["finished_at"]


def test_autothrottle_aims_at_its_target_across_three_workers(redis_url, pg_database_url, tmp_path):
    """AutoThrottle on (target 1 request in flight): three workers together keep about one
    request in flight, not one each, and the report records the shared delay."""
    site = CountingSite(latency=0.2, articles=60, per_page=20).start()
    at = ["-s", "AUTOTHROTTLE_ENABLED=True", "-s", "AUTOTHROTTLE_TARGET_CONCURRENCY=1",
          "-s", "AUTOTHROTTLE_START_DELAY=0.2"]  # fmt: skip
    try:
        procs = [worker(site, tmp_path, pg_database_url, redis_url, n, *at) for n in range(3)]
        results = finish(procs)
    finally:
        site.stop()
    for rc, stderr in results:
        assert rc == 0, stderr[-3000:]
    assert len(site.spans) > 80
    # One worker's own AutoThrottle each would make it about 3.
    assert site.mean_concurrency() < 1.6, site.mean_concurrency()
    reports = [json.loads((tmp_path / f"report{n}.json").read_text()) for n in range(3)]
    assert sum(r["requests"] for r in reports) == len(site.requests_log)
    summary = json.loads(dgarchive("run-report", "--frontier", redis_url).stdout)
    budget = summary["host_budget"]["autothrottle"]
    assert budget["target_concurrency"] == 1.0 and budget["start_delay"] == 0.2
    host = site.url.split("/")[2]
    assert budget["delays"][host] >= 0.2  # about the latency over the target


def test_redis_lost_mid_crawl_stops_workers_with_exit_5_and_closed_warcs(pg_database_url, tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    site = CountingSite(latency=0.05, articles=300, per_page=20).start()
    try:
        procs = [worker(site, tmp_path, pg_database_url, server.url, n) for n in range(2)]
        deadline = time.monotonic() + 120
        while len(site.requests_log) < 60 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.stop()
        results = finish(procs, timeout=180)
    finally:
        server.stop()
        site.stop()
    for rc, stderr in results:
        assert rc == 5, stderr[-3000:]
        assert "the frontier Redis at redis://127.0.0.1" in stderr
    archive = tmp_path / "archive"
    assert not [p.name for p in archive.iterdir() if p.name.endswith(".open")]
    check = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", *map(str, warc_files(archive))],
        capture_output=True, text=True, cwd=REPO, env=_env(),
    )  # fmt: skip
    assert check.returncode == 0, check.stdout[-2000:]


def test_workers_share_the_postgresql_lock_and_a_single_crawl_is_refused(pg_database_url):
    from crawler.dblock import DatabaseLock
    from crawler.runlock import LockHeldError

    with DatabaseLock(pg_database_url, run_id="aaaa1111-run", shared=True):
        with DatabaseLock(pg_database_url, run_id="aaaa1111-run", shared=True):
            with pytest.raises(LockHeldError):
                DatabaseLock(pg_database_url, run_id="bbbb2222-run", shared=True).acquire()
            with pytest.raises(LockHeldError) as exc:
                DatabaseLock(pg_database_url, run_id="cccc3333-solo").acquire()
            assert "aaaa1111" in str(exc.value)
    with DatabaseLock(pg_database_url, run_id="cccc3333-solo"):
        pass


def test_workers_restarted_after_redis_comes_back_finish_the_same_run(pg_database_url, tmp_path):
    """Redis (persistent: append-only file) stops mid-crawl: the workers exit 5 naming it, with
    their WARCs closed; Redis and the workers start again, and the same run completes with
    every article stored once."""
    site = CountingSite(latency=0.05, articles=300, per_page=20).start()
    server = RedisServer(tmp_path / "redis", persist=True).start()
    try:
        single = tmp_path / "single"
        one = crawl_mirror(site.url, single / "archive", f"sqlite:///{single / 'db.sqlite'}")
        assert one.returncode == 0, one.stderr[-3000:]
        expected = records(dgarchive("export", "--db", f"sqlite:///{single / 'db.sqlite'}").stdout)
        site.reset_log()

        procs = [worker(site, tmp_path, pg_database_url, server.url, n) for n in range(2)]
        deadline = time.monotonic() + 300
        while len(site.requests_log) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(p.poll() is None for p in procs), "the crawl ended before Redis was lost"
        server.stop()
        for rc, stderr in finish(procs, timeout=300):
            assert rc == 5, stderr[-3000:]
            assert "the frontier Redis at redis://127.0.0.1" in stderr
        archive = tmp_path / "archive"
        assert not [p.name for p in archive.iterdir() if p.name.endswith(".open")]
        first_run = {json.loads((tmp_path / f"report{n}.json").read_text())["run_id"]
                     for n in range(2)}  # fmt: skip
        stored_before = len(records(dgarchive("export", "--db", pg_database_url).stdout))
        assert 0 < stored_before < len(expected), "Redis was not lost mid-crawl"

        server.start()  # same port and directory: the run's state comes back from the AOF
        procs = [worker(site, tmp_path, pg_database_url, server.url, n) for n in (2, 3)]
        for rc, stderr in finish(procs):
            assert rc == 0, stderr[-3000:]
    finally:
        server.stop()
        site.stop()
    second_run = {json.loads((tmp_path / f"report{n}.json").read_text())["run_id"]
                  for n in (2, 3)}  # fmt: skip
    assert first_run == second_run and len(first_run) == 1  # resumed, not a new run
    export = dgarchive("export", "--db", pg_database_url)
    assert export.returncode == 0, export.stderr
    lines = [json.loads(line)["url"] for line in export.stdout.splitlines() if line.strip()]
    assert len(lines) == len(set(lines))  # each article stored once
    assert records(export.stdout) == expected
    check = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", *map(str, warc_files(archive))],
        capture_output=True, text=True, cwd=REPO, env=_env(),
    )  # fmt: skip
    assert check.returncode == 0, check.stdout[-2000:]


def test_a_worker_killed_holding_no_lease_is_lost_not_left_running(
    redis_url, pg_database_url, tmp_path
):
    """A peer killed at the run's end with nothing leased leaves nothing to requeue, so the
    worker still crawling reaches the idle end before the peer's heartbeat expires. It waits
    for that (at most one heartbeat TTL) and marks the peer lost: the run's row does not read
    `running` for good."""
    import redis

    from pipelines.store import RecordStore, ensure_schema, make_engine

    site = CountingSite(latency=0.02, articles=60, per_page=20).start()
    r = redis.Redis.from_url(redis_url)
    engine = make_engine(pg_database_url)
    ensure_schema(engine)
    try:
        proc = start_crawl(
            site.url, tmp_path / "archive", pg_database_url, "--frontier", redis_url,
            "--idle-exit", "1", *FAST,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while not r.hget("dgarchive:lock", "run_id") and time.monotonic() < deadline:
            time.sleep(0.05)
        run_id = r.hget("dgarchive:lock", "run_id").decode()
        # The peer joins the run (Redis and the run's row) and beats until the frontier is
        # drained (nothing queued, nothing leased), then is "killed": its heartbeat is left
        # to expire (3 s), while the crawling worker reaches its idle end (1 s).
        key = f"dgarchive:run:{run_id}:"
        r.sadd(key + "workers", "ghost")
        RecordStore(engine).start_run(run_id, {"spider": "town_news"}, worker="ghost")
        while proc.poll() is None and time.monotonic() < deadline:
            r.set(key + "hb:ghost", "now", px=3000)
            drained = not r.zcard(key + "queue") and not r.hlen(key + "lease:owner")
            if drained and r.hget(key + "meta", "seeded") and len(site.requests_log) > 60:
                break
            time.sleep(0.1)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        site.stop()
        engine.dispose()
    assert proc.returncode == 0, stderr[-3000:]
    run = run_row(pg_database_url)
    statuses = {w: e["status"] for w, e in run["counters"]["workers"].items()}
    assert statuses.pop("ghost") == "lost", run["counters"]["workers"]
    assert list(statuses.values()) == ["finished"]
    assert run["status"] == "lost" and run["finished_at"] is not None
