"""Run locks: a second crawl refuses at once and names the holder; dead holders are taken over."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.runlock import (
    LockHeldError,
    MultiLock,
    RunLock,
    lock_path_for,
    lock_paths,
    lock_paths_for_file,
    read_holder,
)
from pipelines.store import sqlite_file

REPO = Path(__file__).resolve().parent.parent

HOLDER = """
import sys, time
from crawler.runlock import RunLock
lock = RunLock(sys.argv[1], run_id=sys.argv[2]).acquire()
print("locked", flush=True)
if sys.argv[3] == "hold":
    time.sleep(120)
else:
    lock.release()
"""


def _holder(path: Path, run_id: str, mode: str = "hold") -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), run_id, mode],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert line.strip() == "locked", proc.stderr.read()
    return proc


@pytest.fixture
def holder_proc(tmp_path):
    procs = []

    def start(path: Path, run_id: str, mode: str = "hold") -> subprocess.Popen:
        proc = _holder(path, run_id, mode)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_second_process_refuses_within_a_second_and_names_the_holder(tmp_path, holder_proc):
    path = lock_path_for(tmp_path / "archive")
    proc = holder_proc(path, "run-first")

    started = time.monotonic()
    with pytest.raises(LockHeldError) as info:
        RunLock(path, run_id="run-second").acquire()
    assert time.monotonic() - started < 1.0

    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"another crawl holds {path}: pid {proc.pid} on ")
    assert socket.gethostname() in message
    assert "since 20" in message
    assert message.endswith(", run run-first")
    assert info.value.holder["pid"] == proc.pid
    # The refusal did not disturb the holder's record.
    assert read_holder(path)["run_id"] == "run-first"


def test_lock_of_a_killed_process_is_taken_over_and_logged(tmp_path, holder_proc, caplog):
    path = lock_path_for(tmp_path / "archive")
    proc = holder_proc(path, "run-killed")
    with pytest.raises(LockHeldError):
        RunLock(path).acquire()

    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    # The dead process wrote its record and never cleaned it up.
    assert read_holder(path)["pid"] == proc.pid

    caplog.set_level(logging.WARNING, logger="crawler.runlock")
    with RunLock(path, run_id="run-next") as lock:
        assert lock.taken_over["pid"] == proc.pid
        assert lock.taken_over["run_id"] == "run-killed"
        assert read_holder(path)["pid"] == os.getpid()
        assert read_holder(path)["run_id"] == "run-next"
    assert any(
        "taking over stale lock" in r.getMessage() and f"pid {proc.pid}" in r.getMessage()
        for r in caplog.records
    )


def test_clean_exit_leaves_an_empty_file_and_nothing_to_take_over(tmp_path, holder_proc):
    path = lock_path_for(tmp_path)
    proc = holder_proc(path, "run-clean", mode="release")
    proc.wait(timeout=10)
    assert path.exists()
    assert path.read_text() == ""
    with RunLock(path) as lock:
        assert lock.taken_over is None


def test_holder_record(tmp_path):
    path = tmp_path / "a" / "b" / ".dgarchive.lock"  # parents are created
    with RunLock(path, run_id="r1", argv=["dgarchive", "crawl", "--town", "houjie"]) as lock:
        record = json.loads(path.read_text())
        assert record == lock.holder
        assert record["pid"] == os.getpid()
        assert record["host"] == socket.gethostname()
        assert record["run_id"] == "r1"
        assert record["argv"] == ["dgarchive", "crawl", "--town", "houjie"]
        assert record["started_at"].endswith("Z")
        assert lock.locked
    assert not lock.locked
    assert read_holder(path) is None


def test_same_process_cannot_take_the_lock_twice(tmp_path):
    path = tmp_path / ".dgarchive.lock"
    with RunLock(path, run_id="outer"):
        with pytest.raises(LockHeldError, match=f"pid {os.getpid()} .*, run outer$"):
            RunLock(path).acquire()
    with RunLock(path):  # released: free again
        pass


def test_unreadable_holder_record_still_refuses(tmp_path):
    path = tmp_path / ".dgarchive.lock"
    with RunLock(path):
        path.write_text("")  # e.g. the holder was between locking and writing
        with pytest.raises(LockHeldError, match="holder unknown"):
            RunLock(path).acquire()


def test_leftover_file_without_a_lock_is_taken_over(tmp_path, caplog):
    path = tmp_path / ".dgarchive.lock"
    path.write_text(json.dumps({"pid": 99999999, "host": "elsewhere", "run_id": "old"}))
    caplog.set_level(logging.WARNING, logger="crawler.runlock")
    with RunLock(path) as lock:
        assert lock.taken_over["run_id"] == "old"
    assert "pid 99999999 on elsewhere, run old" in caplog.text


def test_garbage_in_an_unlocked_file_is_overwritten_quietly(tmp_path, caplog):
    path = tmp_path / ".dgarchive.lock"
    path.write_text("not json")
    with RunLock(path) as lock:
        assert lock.taken_over is None
        assert read_holder(path)["pid"] == os.getpid()
    assert "taking over" not in caplog.text


def test_multilock_takes_all_or_none(tmp_path):
    first, second = tmp_path / "one.lock", tmp_path / "two.lock"
    with RunLock(second, run_id="other"):
        with pytest.raises(LockHeldError, match="run other"):
            MultiLock([first, second]).acquire()
        # The first lock, taken before the refusal, was given back.
        with RunLock(first):
            pass
    with MultiLock([first, second, tmp_path / "." / "one.lock"], run_id="both") as multi:
        assert len(multi.locks) == 2
        assert read_holder(first)["run_id"] == read_holder(second)["run_id"] == "both"
    assert read_holder(first) is None and read_holder(second) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///dgarchive.sqlite", "dgarchive.sqlite"),
        ("sqlite:////data/db/dgarchive.sqlite", "/data/db/dgarchive.sqlite"),
        ("sqlite+pysqlite:////data/db/x.db?timeout=30", "/data/db/x.db"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("postgresql://u:p@postgres/dgarchive", None),
        ("postgresql+psycopg://postgres/dgarchive", None),
        (None, None),
    ],
)
def test_sqlite_file(url, expected):
    assert sqlite_file(url) == (Path(expected) if expected else None)


def test_lock_paths(tmp_path):
    archive = tmp_path / "archive"
    db = tmp_path / "db" / "dgarchive.sqlite"
    assert lock_paths(archive, f"sqlite:///{db}") == [
        archive / ".dgarchive.lock",
        db.parent / ".dgarchive.sqlite.dgarchive.lock",
    ]
    assert lock_paths(archive, "postgresql://postgres/dgarchive") == [archive / ".dgarchive.lock"]
    assert lock_paths(archive, None) == [archive / ".dgarchive.lock"]
    for url in (f"sqlite:///{db}", "postgresql://postgres/dgarchive", None):
        assert lock_paths_for_file(archive, sqlite_file(url)) == lock_paths(archive, url)


def test_two_archives_sharing_one_sqlite_file_exclude_each_other(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    with MultiLock(lock_paths(tmp_path / "archive-a", db_url)):
        with pytest.raises(LockHeldError, match="shared.sqlite.dgarchive.lock"):
            MultiLock(lock_paths(tmp_path / "archive-b", db_url)).acquire()
