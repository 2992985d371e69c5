"""One crawl at a time per PostgreSQL database, whatever archive each crawl uses."""

from __future__ import annotations

import os
import socket

import pytest

from crawler.dblock import DatabaseLock
from crawler.runlock import LockHeldError
from tests.e2e import crawl_mirror

pytestmark = pytest.mark.postgres


def closed_site() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


def test_a_second_lock_on_the_same_database_is_refused_and_names_the_holder(pg_database_url):
    with DatabaseLock(pg_database_url, run_id="run-one"):
        with pytest.raises(LockHeldError) as info:
            DatabaseLock(pg_database_url, run_id="run-two").acquire()
        message = str(info.value)
        assert f"pid {os.getpid()}" in message and "run-one" in message
        assert "\n" not in message
    # Released: the next crawl gets it.
    with DatabaseLock(pg_database_url, run_id="run-three"):
        pass


def test_a_crawl_with_another_archive_refuses_while_the_database_is_held(pg_database_url, tmp_path):
    with DatabaseLock(pg_database_url, run_id="holder"):
        run = crawl_mirror(closed_site(), tmp_path / "other-archive", pg_database_url)
    assert run.returncode == 3, run.stderr[-2000:]
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and f"pid {os.getpid()}" in lines[0]
    # With the lock free, the same crawl runs (and finds the site down: exit 4, not 3).
    run = crawl_mirror(closed_site(), tmp_path / "other-archive", pg_database_url)
    assert run.returncode == 4, run.stderr[-2000:]


def test_sqlite_urls_need_no_database_lock():
    assert not DatabaseLock.applies_to("sqlite:///x.sqlite")
    assert DatabaseLock.applies_to("postgresql+psycopg://u@h/d")
    assert DatabaseLock.applies_to("postgres://u@h/d")
