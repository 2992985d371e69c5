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

pytestmark = pytest.mark.e2e


@pytest.fixture()
def site():
    s = MockSite(articles=30, per_page=10, faults=True, slow_seconds=30)
    s.start()
    yield s
    s.stop()


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
        states = {p: Path(f"/proc/{p}/stat").read_text()[:80] for p in survivors}
        assert not survivors, f"processes of the killed crawl survive: {states}"
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert not _holders(files) - {os.getpid()}, "a process still holds the database"
        assert os.getpid() not in _holders(files), "the test itself left a connection open"
    finally:
        if crawl.poll() is None:
            crawl.kill()
        crawl.communicate()
