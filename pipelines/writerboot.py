"""The database writer's process, started before the crawl needs it.

`DatabasePipeline` writes through a process of its own (`pipelines.store.writerprocess`).
Spawning it costs an interpreter start and the store's imports (SQLAlchemy, Alembic, the
ORM, the migration scripts): about a CPU-second, which the first request used to wait for in
`DatabasePipeline.open_spider`. `dgarchive crawl` calls `prestart` before its own imports
(Scrapy, Twisted), so that work runs on the other core meanwhile; `prepare` then brings the
schema to head once the crawl holds its locks; the pipeline `take`s the process when it
opens. Nothing else changes: the pipeline still opens the store (and records the run) in
`open_spider`, and a database that cannot be used still fails there, with the same error.

Light on purpose: this module imports neither the store nor SQLAlchemy, in the crawl process
or in the writer's before `writer_init` has run (the initializer and the tasks are pickled by
name from here; the writer process imports the store itself).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

__all__ = ["discard", "new_writer_process", "prepare", "prestart", "take", "writer_init"]

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
    """Start the writer process for `db_url` now: it imports the store while the caller
    goes on. Only imports: it does not touch the database (the crawl holds no lock yet)."""
    discard(db_url)
    executor = new_writer_process()
    executor.submit(_warm)
    _PRESTARTED[db_url] = executor


def prepare(db_url: str) -> None:
    """Bring the schema of `db_url` to head in the prestarted writer, without waiting (the
    caller holds the crawl's locks by now). A failure is kept and raised by `writer_open`."""
    executor = _PRESTARTED.get(db_url)
    if executor is not None:
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


def _warm() -> None:
    from pipelines.store.writerprocess import writer_warm

    writer_warm()


def _prepare(db_url: str) -> None:
    from pipelines.store.writerprocess import writer_prepare

    writer_prepare(db_url)
