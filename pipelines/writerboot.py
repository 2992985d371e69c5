"""The database writer's process, started before the crawl needs it.

`DatabasePipeline` writes through a process of its own (`pipelines.store.writerprocess`).
Starting it costs an interpreter, the store's imports (SQLAlchemy, the ORM) and the schema
check (and, on an empty database, the migrations): about a CPU-second, which the first
request used to wait for in `DatabasePipeline.open_spider`, after the crawl process's own
imports. `dgarchive crawl` calls `prestart` once it holds its locks, before it imports Scrapy
and Twisted, so that work runs on the other core meanwhile; the pipeline `take`s the process
when it opens. Nothing else changes: the pipeline still opens the store (and records the run)
in `open_spider`, and a database that cannot be used fails there, with the same error.

Light on purpose: this module imports neither the store nor SQLAlchemy, so the crawl process
starts the writer before importing them (the initializer and the task are pickled by name
from here; the writer process imports the store itself, after `writer_init`).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

__all__ = ["discard", "new_writer_process", "prestart", "take", "writer_init"]

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_PRESTARTED: dict[str, ProcessPoolExecutor] = {}


def writer_init(parent_pid: int) -> None:
    """Run first in the writer process: tie its life to the crawl's.

    On Linux the kernel sends SIGKILL to the writer when the crawl process dies, however it
    dies (kill -9, OOM killer), so no writer is left holding the database files. If the crawl
    died before this line ran, the writer has already been re-parented: it exits at once.
    SIGINT and SIGTERM are ignored: Ctrl-C reaches the whole process group, and the crawl
    decides when its writer stops (after the pending batch is written).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            logger.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != parent_pid:
        os._exit(1)


def new_writer_process() -> ProcessPoolExecutor:
    """An executor of one writer process, started on its first task. spawn, not fork: the
    crawl process runs a reactor and threads that a fork would copy."""
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=writer_init,
        initargs=(os.getpid(),),
    )


def prestart(db_url: str) -> None:
    """Start the writer process for `db_url` now and bring the schema to head in it
    (`writer_prepare`), without waiting; the caller holds the crawl's locks. A failure is
    kept there and raised by `writer_open`, so the pipeline reports it as it always did."""
    discard(db_url)
    executor = new_writer_process()
    _PRESTARTED[db_url] = executor
    executor.submit(_prepare, db_url)


def take(db_url: str) -> ProcessPoolExecutor | None:
    """The writer process prestarted for `db_url`, now the caller's to shut down; None if
    there is none."""
    return _PRESTARTED.pop(db_url, None)


def discard(db_url: str | None = None) -> None:
    """Stop the prestarted writer(s) nobody took (the crawl ended before its pipeline
    opened): they only imported or prepared, so waiting for them loses nothing."""
    for url in [db_url] if db_url is not None else list(_PRESTARTED):
        executor = _PRESTARTED.pop(url, None)
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def _prepare(db_url: str) -> None:
    from pipelines.store.writerprocess import writer_prepare

    writer_prepare(db_url)
