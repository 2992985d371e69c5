"""The database writer's process, started before the crawl needs it.

`DatabasePipeline` writes through a process of its own (`pipelines.store.writerprocess`).
Starting it costs an interpreter, the store's imports (SQLAlchemy, the ORM) and the schema
check (and, on an empty database, the migrations): about a CPU-second, which the first
request used to wait for in `DatabasePipeline.open_spider`, after the crawl process's own
imports. `dgarchive crawl` calls `prestart` once it holds its locks, before it imports Scrapy
and Twisted, so that work runs on the other core meanwhile; the pipeline `take`s the process
when it opens. Nothing else changes: the pipeline still opens the store (and records the run)
in `open_spider`, and a database that cannot be used fails there, with the same error.

Earlier still, before it reads its settings (which imports Scrapy), `dgarchive crawl` calls
`warm`: a writer process that only imports the store, with no database named yet, so that the
store's imports run beside the crawl's from its first tenth of a second. `prestart` gives that
process its database; if the crawl ends before that (a wrong argument, a lock held, an
unreachable database, `--no-db` in the settings), `discard` terminates it: it has touched
nothing.

Light on purpose: this module imports neither the store nor SQLAlchemy, so the crawl process
starts the writer before importing them, and never needs them to name a task: every task is
`call` (or `_prepare`), pickled by name from here, which imports
`pipelines.store.writerprocess` in the writer process, after `writer_init`.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from typing import Any

__all__ = [
    "ask",
    "ask_warm",
    "call",
    "discard",
    "new_writer_process",
    "prestart",
    "take",
    "warm",
    "writer_init",
]

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_PRESTARTED: dict[str, ProcessPoolExecutor] = {}
_WARM: list[ProcessPoolExecutor] = []  # started by `warm`, no database given yet


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


def new_writer_process(method: str = "spawn") -> ProcessPoolExecutor:
    """An executor of one writer process, started on its first task. spawn, not fork, once
    the crawl process runs a reactor and threads that a fork would copy; `warm` forks
    before there are any."""
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context(method),
        initializer=writer_init,
        initargs=(os.getpid(),),
    )


def call(name: str, *args: Any) -> Any:
    """`pipelines.store.writerprocess.<name>(*args)`, run where this is called: in the writer
    process when the pipeline submits it (pickled by this function's name, so the crawl
    process does not import the store to name the task), in the writer thread otherwise."""
    from pipelines.store import writerprocess

    return getattr(writerprocess, name)(*args)


def ask(db_url: str, name: str, *args: Any) -> Any:
    """`call(name, *args)` in the writer process prestarted for `db_url` (after its schema
    is prepared), waiting for the answer; here if there is none or it died."""
    executor = _PRESTARTED.get(db_url)
    if executor is not None:
        try:
            return executor.submit(call, name, *args).result()
        except BrokenExecutor:
            logger.debug("the prestarted writer process died; %s runs here", name)
    return call(name, *args)


def ask_warm(name: str, *args: Any) -> Future | None:
    """`call(name, *args)` submitted to the warm writer (before `prestart`), or None if
    there is none: the caller does it itself."""
    if not _WARM:
        return None
    try:
        return _WARM[0].submit(call, name, *args)
    except BrokenExecutor:
        _terminate(_WARM.pop())
        return None


def warm() -> None:
    """Start a writer process now and have it import the store, before the database is known
    (the caller has not read its settings yet); `prestart` uses it. Does nothing if one is
    already warm."""
    if _WARM:
        return
    # Forked while this process has no other thread (`dgarchive crawl` has not started its
    # reactor, its logging or anything else yet): the writer then starts with what this
    # process has imported, without a new interpreter's start-up and the re-import of the
    # command's modules that spawn does (about 0.1 s). Else spawned.
    method = "fork" if threading.active_count() == 1 else "spawn"
    from multiprocessing import spawn

    if method == "spawn" and not os.access(spawn.get_executable(), os.X_OK):
        # No process can start (the user may not run this interpreter); a failed start would
        # speak up on stderr even if the crawl stops at a wrong argument. The pipeline's own
        # start reports it, if the crawl gets that far.
        return
    try:
        executor = new_writer_process(method)
        executor.submit(_import_store)
    except Exception:
        logger.debug("no writer process started ahead of the settings", exc_info=True)
        return
    _WARM.append(executor)


def prestart(db_url: str) -> None:
    """Start the writer process for `db_url` now (or take the one `warm` started) and bring
    the schema to head in it (`writer_prepare`), without waiting; the caller holds the
    crawl's locks. A failure is kept there and raised by `writer_open`, so the pipeline
    reports it as it always did."""
    discard(db_url)
    executor = _WARM.pop() if _WARM else new_writer_process()
    _PRESTARTED[db_url] = executor
    executor.submit(_prepare, db_url)


def take(db_url: str) -> ProcessPoolExecutor | None:
    """The writer process prestarted for `db_url`, now the caller's to shut down; None if
    there is none."""
    return _PRESTARTED.pop(db_url, None)


def discard(db_url: str | None = None) -> None:
    """Stop the prestarted writer(s) nobody took (the crawl ended before its pipeline
    opened): they only imported or prepared, so waiting for them loses nothing. Without
    `db_url`, also terminate a warm writer no database was given to: it only imports, and
    an error before the crawl's locks should not wait for that."""
    for url in [db_url] if db_url is not None else list(_PRESTARTED):
        executor = _PRESTARTED.pop(url, None)
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
    if db_url is None:
        while _WARM:
            _terminate(_WARM.pop())


def _terminate(executor: ProcessPoolExecutor) -> None:
    # SIGKILL: the writer ignores SIGTERM (`writer_init`); it has only imported modules.
    kill = getattr(executor, "kill_workers", None)  # Python 3.14
    if kill is not None:
        kill()
        return
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        process.kill()
    executor.shutdown(wait=True, cancel_futures=True)


def _import_store() -> None:
    import pipelines.store.writerprocess  # noqa: F401


def _prepare(db_url: str) -> None:
    from pipelines.store.writerprocess import writer_prepare

    writer_prepare(db_url)
