"""End to end: exit codes and processes of a crawl that fails, is killed or is interrupted.

Every test runs the real `dgarchive` (or `scrapy`) command in a subprocess against the
mirror; the database is disturbed by a real second SQLite connection, not a mock.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e import REPO, _env, crawl_mirror, start_crawl, warc_files
from tests.mocksite import MockSite
from tests.timing import budget

pytestmark = pytest.mark.e2e


@pytest.fixture
def site(mirror):
    return mirror(articles=30, per_page=10, faults=True, slow_seconds=30)


def _wait_for(predicate, timeout: float = 60, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")


def _run_row_exists(db: Path) -> bool:
    if not db.exists():
        return False
    conn = None
    try:  # sqlite3's context manager commits but does not close: close, to hold nothing
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        return bool(conn.execute("SELECT count(*) FROM crawl_runs").fetchone()[0])
    except sqlite3.Error:
        return False
    finally:
        if conn is not None:
            conn.close()


def _warcio_check(path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- 1. a database failure at any point is exit 5 -------------------------------------------


def test_write_lock_held_from_just_after_the_start_exits_5_with_unstored_records_reported(
    site, tmp_path
):
    """The default batch (200) is written only when the spider closes: the last batch."""
    db = tmp_path / "db.sqlite"
    report = tmp_path / "report.json"
    crawl = start_crawl(
        site.url, tmp_path / "a", f"sqlite:///{db}", "--report", str(report), delay=0.05
    )
    holder = None
    try:
        _wait_for(lambda: _run_row_exists(db) or crawl.poll() is not None)
        assert crawl.poll() is None, "the crawl ended before the lock could be taken"
        holder = sqlite3.connect(db, timeout=30, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock, held until the crawl ends
        out, err = crawl.communicate(timeout=120)
    finally:
        if crawl.poll() is None:
            crawl.kill()
        if holder is not None:
            holder.close()
    assert crawl.returncode == 5, err[-3000:]
    assert "database is locked" in err and "reindex" in err
    data = json.loads(report.read_text())
    assert data["exit_code"] == 5 and data["finish_reason"] == "database_error"
    not_stored = [f for f in data["failures"] if f["reason"].startswith("not stored:")]
    assert not_stored and all("database is locked" in f["reason"] for f in not_stored)
    assert any("/content/post_" in f["url"] for f in not_stored)
    assert "exit code 5" in err.splitlines()[-1]


def test_a_corrupt_full_text_index_is_exit_5(tmp_path):
    db = tmp_path / "db.sqlite"
    first = MockSite(articles=12, per_page=10).start()
    try:
        run = crawl_mirror(first.url, tmp_path / "a", f"sqlite:///{db}")
    finally:
        first.stop()
    assert run.returncode == 0, run.stderr[-2000:]
    with sqlite3.connect(db) as conn:  # the FTS5 structure record, overwritten
        conn.execute("UPDATE articles_fts_data SET block = x'deadbeef' WHERE id = 10")
    second = MockSite(articles=30, per_page=10).start()  # new articles to index
    try:
        report = tmp_path / "r.json"
        run = crawl_mirror(second.url, tmp_path / "a", f"sqlite:///{db}", "--report", str(report))
    finally:
        second.stop()
    assert run.returncode == 5, run.stderr[-3000:]
    assert "malformed" in run.stderr or "corrupt" in run.stderr
    data = json.loads(report.read_text())
    assert data["exit_code"] == 5
    assert any(f["reason"].startswith("not stored:") for f in data["failures"])


# -- 2. kill -9 leaves no process behind -----------------------------------------------------


def _children(pid: int) -> set[int]:
    """Every live process whose parent chain leads to `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            continue
        parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier and p not in found}
        found |= frontier
    return found


def _holders(paths: list[Path]) -> set[int]:
    """Pids with any of `paths` open (from /proc/*/fd)."""
    wanted = {str(p) for p in paths}
    holders = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                try:
                    if os.readlink(fd) in wanted:
                        holders.add(int(entry.name))
                except OSError:
                    pass
        except OSError:
            continue
    return holders


def test_kill_9_of_the_crawl_leaves_no_process_and_no_open_database(site, tmp_path):
    db = tmp_path / "db.sqlite"
    crawl = start_crawl(site.url, tmp_path / "a", f"sqlite:///{db}", delay=0.2)
    try:
        _wait_for(lambda: _run_row_exists(db) or crawl.poll() is not None)
        assert crawl.poll() is None
        family = _children(crawl.pid)
        assert family, "the crawl has no writer process to test"
        crawl.kill()  # SIGKILL
        crawl.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in family):
            time.sleep(0.05)
        survivors = {p for p in family if Path(f"/proc/{p}").exists()}
        print(f"kill -9: {len(family)} child process(es), {len(survivors)} left after 5 s")
        states = {p: Path(f"/proc/{p}/stat").read_text()[:80] for p in survivors}
        assert not survivors, f"processes of the killed crawl survive: {states}"
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert not _holders(files) - {os.getpid()}, "a process still holds the database"
        assert os.getpid() not in _holders(files), "the test itself left a connection open"
    finally:
        if crawl.poll() is None:
            crawl.kill()
        crawl.communicate()


# -- 3. signals --------------------------------------------------------------------------------


def _fetched(site: MockSite, needle: str) -> bool:
    return any(needle in p for _m, p, _h in site.requests_log)


def test_one_sigterm_with_nothing_in_flight_exits_130_within_2_seconds(site, tmp_path):
    db = tmp_path / "db.sqlite"
    report = tmp_path / "r.json"
    # A long download delay: between two requests nothing is in flight.
    crawl = start_crawl(
        site.url, tmp_path / "a", f"sqlite:///{db}", "--report", str(report), delay=8
    )
    try:
        _wait_for(lambda: _fetched(site, "/houjie/cjjs/tshj/") or crawl.poll() is not None)
        _wait_for(lambda: _run_row_exists(db) or crawl.poll() is not None)
        time.sleep(1)  # the first response is in; the next request waits for the delay
        assert crawl.poll() is None
        started = time.monotonic()
        crawl.send_signal(signal.SIGTERM)
        _out, err = crawl.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        if crawl.poll() is None:
            crawl.kill()
    print(f"one SIGTERM, nothing in flight: exit after {took:.2f} s")
    assert crawl.returncode == 130, err[-3000:]
    assert took < budget(2.0), f"SIGTERM took {took:.2f} s (budget {budget(2.0):.1f} s)"
    assert json.loads(report.read_text())["exit_code"] == 130
    assert not list((tmp_path / "a").glob("*.open"))


def test_a_second_signal_aborts_the_download_in_flight_and_still_closes_the_run(site, tmp_path):
    db = tmp_path / "db.sqlite"
    report = tmp_path / "r.json"
    slow = "post_3900204"  # the mirror's slow page: 30 s before its first byte
    crawl = start_crawl(
        site.url,
        tmp_path / "a",
        f"sqlite:///{db}",
        "--report",
        str(report),
        "-s",
        "DOWNLOAD_TIMEOUT=120",
    )
    try:
        _wait_for(lambda: _fetched(site, slow) or crawl.poll() is not None)
        # Let every other page of the small site be fetched: only the slow one is in flight.
        time.sleep(3)
        assert crawl.poll() is None
        started = time.monotonic()
        crawl.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        crawl.send_signal(signal.SIGINT)  # Ctrl-C after `docker stop`: either counts
        _out, err = crawl.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        if crawl.poll() is None:
            crawl.kill()
    print(f"SIGTERM then SIGINT, slow page in flight: exit after {took:.2f} s")
    assert crawl.returncode == 130, err[-3000:]
    assert took < 10, f"two signals took {took:.2f} s"
    archive = tmp_path / "a"
    assert not list(archive.glob("*.open"))
    for path in warc_files(archive):
        _warcio_check(path)
    data = json.loads(report.read_text())
    assert data["exit_code"] == 130 and data["finish_reason"] == "shutdown"
    # The pending batch (every article fetched so far: fewer than DB_BATCH_SIZE) was written.
    assert data["new_articles"] > 0
    conn = sqlite3.connect(db)
    try:
        stored = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    finally:
        conn.close()
    assert stored == data["new_articles"]
    # The aborted download is reported under its URL.
    assert any(slow in f["url"] for f in data["failures"]), data["failures"]


# -- 4. `scrapy crawl` is `dgarchive crawl` ----------------------------------------------------


def _scrapy(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "town_news", *args],
        cwd=REPO,  # scrapy.cfg
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_scrapy_crawl_is_refused_while_dgarchive_crawl_holds_the_lock(site, tmp_path):
    archive = tmp_path / "a"
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    crawl = start_crawl(site.url, archive, db_url, delay=2)
    try:
        _wait_for(lambda: _run_row_exists(tmp_path / "db.sqlite") or crawl.poll() is not None)
        assert crawl.poll() is None
        run = _scrapy(
            "-a", "town=houjie", "-a", f"site_root={site.url}",
            "-s", f"WARC_DIR={archive}", "-s", f"DB_URL={db_url}",
        )  # fmt: skip
        assert crawl.poll() is None, "the locked crawl ended before the check"
    finally:
        crawl.send_signal(signal.SIGTERM)
        crawl.communicate(timeout=60)
    assert run.returncode == 3, run.stderr[-3000:]
    assert "another crawl holds" in run.stderr and f"pid {crawl.pid}" in run.stderr


def test_scrapy_crawl_with_an_unreachable_postgresql_is_one_line_and_exit_5(tmp_path):
    url = f"postgresql://dg@127.0.0.1:{_closed_port()}/dg"
    run = _scrapy("-a", "town=houjie", "-s", f"WARC_DIR={tmp_path / 'a'}", "-s", f"DB_URL={url}")
    assert run.returncode == 5, run.stderr[-3000:]
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("dgarchive: error: database unreachable")
    assert "connection refused" in lines[0] and "Traceback" not in run.stderr


def test_scrapy_crawl_runs_the_crawl_and_exits_0(tmp_path):
    s = MockSite(articles=8, per_page=10).start()
    try:
        db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
        report = tmp_path / "r.json"
        run = _scrapy(
            "-a", "town=houjie", "-a", f"site_root={s.url}",
            "-s", f"WARC_DIR={tmp_path / 'a'}", "-s", f"DB_URL={db_url}",
            "-s", f"REPORT_FILE={report}", "-s", "DOWNLOAD_DELAY=0",
            "-s", "AUTOTHROTTLE_ENABLED=False",
        )  # fmt: skip
    finally:
        s.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    data = json.loads(report.read_text())
    assert data["exit_code"] == 0 and data["new_articles"] > 0
    assert "exit code 0" in run.stderr.splitlines()[-1]


# -- 5. a bug in the writer is exit 70 with its traceback, not a "database error" ------------


def test_a_bug_in_the_writer_is_exit_70_with_its_traceback_not_5(tmp_path):
    pipelines = {
        "pipelines.cleaning.CleaningPipeline": 100,
        "tests.hostile.bugs.UnpicklableFieldPipeline": 700,
        "pipelines.database.DatabasePipeline": 800,
    }
    s = MockSite(articles=8, per_page=10).start()
    try:
        report = tmp_path / "r.json"
        run = crawl_mirror(
            s.url, tmp_path / "a", f"sqlite:///{tmp_path / 'db.sqlite'}",
            "--report", str(report), "-s", f"ITEM_PIPELINES={json.dumps(pipelines)}",
        )  # fmt: skip
    finally:
        s.stop()
    assert run.returncode == 70, run.stderr[-3000:]
    assert "Traceback" in run.stderr and "pickle" in run.stderr.lower()
    assert "internal error in the database writer" in run.stderr
    assert "database error, stopping" not in run.stderr
    data = json.loads(report.read_text())
    assert data["finish_reason"] == "internal_error" and data["exit_code"] == 70


def test_the_writer_lets_a_non_database_exception_through_as_itself(tmp_path):
    from pipelines.store import DatabaseError
    from pipelines.store import writerprocess as wp

    with pytest.raises(KeyError):  # no store opened under this token: a bug, not the database
        wp.writer_save("no-such-token", [], "run")
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    with pytest.raises(DatabaseError):  # the database's own error stays one line, exit 5
        wp.writer_open("t", url + "?mode=ro", "run", {})


def test_write_lock_held_before_the_start_is_exit_5_in_one_line(tmp_path):
    """The writer cannot even record the run: the crawl ends at open, exit 5, no traceback."""
    db = tmp_path / "db.sqlite"
    upgraded = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "db", "upgrade", "--db", f"sqlite:///{db}"],
        cwd=REPO, env=_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr
    holder = sqlite3.connect(db, timeout=30, isolation_level=None)
    s = MockSite(articles=8, per_page=10).start()
    try:
        holder.execute("BEGIN IMMEDIATE")
        run = crawl_mirror(s.url, tmp_path / "a", f"sqlite:///{db}")
    finally:
        s.stop()
        holder.close()
    assert run.returncode == 5, run.stderr[-3000:]
    assert "dgarchive: error: database error" in run.stderr and "database is locked" in run.stderr
    assert "Traceback" not in run.stderr
    assert not list((tmp_path / "a").glob("*.open"))
