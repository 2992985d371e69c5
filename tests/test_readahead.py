"""`crawler.readahead.ahead`: a producer run in a child process, its items and errors relayed."""

from __future__ import annotations

import os
import threading
import time

import pytest

from crawler.readahead import BATCH, Ahead, ReadAheadError, ahead, backlog
from pipelines.warc.reader import WarcReadError


def _pid_then(items):
    def produce():
        yield os.getpid()
        yield from items

    return produce


def test_items_come_in_order_from_a_child_process() -> None:
    items = [(i, b"x" * i, {"n": str(i)}) for i in range(3 * BATCH + 5)]
    pid, *got = list(ahead(_pid_then(items)))
    assert got == items
    assert pid != os.getpid()


def test_an_error_comes_after_the_items_before_it() -> None:
    def produce():
        yield from range(BATCH + 3)
        raise WarcReadError("file.warc.gz: damaged at byte 1234 (10 bytes): cut")

    got = []
    with pytest.raises(WarcReadError, match="damaged at byte 1234"):
        for item in ahead(produce):
            got.append(item)
    assert got == list(range(BATCH + 3))


class _Unpicklable(Exception):
    def __init__(self, a, b):  # pickle rebuilds it with one argument: fails
        super().__init__(f"{a} {b}")


def test_an_error_that_cannot_be_sent_comes_as_its_traceback() -> None:
    def produce():
        yield 1
        raise _Unpicklable("left", "right")

    with pytest.raises(ReadAheadError, match="_Unpicklable: left right"):
        list(ahead(produce))


def test_a_child_that_dies_is_an_error_not_a_short_result() -> None:
    def produce():
        yield 1
        os._exit(3)

    with pytest.raises(ReadAheadError, match="ended without a result"):
        list(ahead(produce))


def test_a_consumer_that_stops_early_leaves_no_child() -> None:
    def produce():
        yield os.getpid()
        n = 0
        while True:  # endless: only the closed pipe stops it
            n += 1
            yield b"x" * 4096

    it = ahead(produce)
    pid = next(it)
    for _ in range(5 * BATCH):
        next(it)
    it.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped


def test_with_other_threads_running_the_producer_runs_here() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        pid, *got = list(ahead(_pid_then([1, 2, 3])))
    finally:
        stop.set()
        thread.join()
    assert (pid, got) == (os.getpid(), [1, 2, 3])


def test_backlog_is_what_the_consumer_has_not_read_yet() -> None:
    """In the child, `backlog()` counts the bytes sent and not yet read, so a producer can
    tell a consumer that is behind from one that waits; elsewhere it cannot tell."""
    assert backlog() is None  # no child forked: nothing to ask

    def produce():
        yield backlog()  # nothing sent yet
        # with the first, one message, flushed (distinct objects: pickle sends each)
        yield from (bytes([i]) * 10_000 for i in range(BATCH - 1))
        yield backlog()  # the consumer sleeps: all of it still in the pipe

    assert threading.active_count() == 1  # else no child would be forked
    started = Ahead(produce)
    try:
        time.sleep(1.0)  # the child sends its first message and measures meanwhile
        got = list(started)
    finally:
        started.close()
    assert got[0] == 0
    assert got[1:-1] == [bytes([i]) * 10_000 for i in range(BATCH - 1)]
    assert got[-1] >= (BATCH - 1) * 10_000
