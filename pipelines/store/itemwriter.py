"""Writing a sequence of items through `RecordStore` in arrival order, in this process or in
a writer process beside it, for `dgarchive reindex`.

An item is a record (saved with the records next to it, in one `RecordStore.save` batch per
run of records) or a revisit (`{"revisit": True, "url", "capture"}`, through
`RecordStore.record_revisit`), exactly as the caller ordered them: `RecordStore.save_items` is the one
definition of what a list of items does to the database, and the writer process runs that
same function, so where it runs changes nothing in the database.

The process side (`process_open`, `process_save`, `process_close`) are module-level
functions, so a `spawn` process can run them (pickled by name); the caller gives the process
(`pipelines.writerboot.new_writer_process`, which ties its life to its parent's). After a
batch failed, the process writes no later batch: the caller stops at the first error, as it
would writing in its own process.
"""

from __future__ import annotations

import uuid
from collections import Counter, deque
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from pipelines.store.engine import make_engine
from pipelines.store.errors import DatabaseError
from pipelines.store.failures import translate_error
from pipelines.store.labels import TownLike
from pipelines.store.writer import RecordStore
from pipelines.store.writerprocess import STORE_ERRORS

__all__ = ["ItemWriter", "process_close", "process_open", "process_save"]

# Batches handed to the writer process and not yet written: enough that neither process
# waits for the other whenever the scheduler gives one of them less time (on a loaded
# machine 8 wrote the bench archive in 9.3/12.7 s where 2 took 11.3/14.2 s), few enough
# that the records waiting stay a few MB.
IN_FLIGHT = 8


class ItemWriter:
    """Writes lists of items (`RecordStore.save_items`) through `store`, or, given `process` (an
    executor of one writer process, now the ItemWriter's to shut down), in that process on
    another core while the caller builds the next list.

    `write` returns at once in the process mode; an error of a batch is raised by a later
    `write` or by `finish`, which waits for every batch and returns the counts. `close`
    (always, in a `finally`) stops the process; batches not yet written are then dropped.
    """

    def __init__(
        self,
        store: RecordStore,
        db_url: str,
        run_id: str,
        *,
        towns: Iterable[TownLike] = (),
        process: ProcessPoolExecutor | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.counts: Counter[str] = Counter()
        self._pending: deque[Future] = deque()
        self._executor: ProcessPoolExecutor | None = None
        self._token = uuid.uuid4().hex
        if process is not None:
            self._executor = process
            self._pending.append(
                self._executor.submit(
                    process_open,
                    self._token,
                    db_url,
                    list(towns),
                    store.writer_bigrams,
                    store.bulk_inserts,
                )
            )

    def write(self, items: list[dict]) -> None:
        if not items:
            return
        if self._executor is None:
            self.counts.update(self.store.save_items(items, self.run_id))
            return
        while len(self._pending) >= IN_FLIGHT:
            self._collect()
        self._pending.append(self._executor.submit(process_save, self._token, items, self.run_id))

    def finish(self) -> Counter[str]:
        """Wait for every batch; the counts of all of them."""
        while self._pending:
            self._collect()
        if self._executor is not None:
            self._executor.submit(process_close, self._token).result()
        return self.counts

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _collect(self) -> None:
        try:
            result = self._pending.popleft().result()
        except BrokenProcessPool as exc:
            raise DatabaseError(f"database writer process failed: {exc}") from None
        if result:
            self.counts.update(result)


class _Open:
    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self.failed = False


_STORES: dict[str, _Open] = {}


def process_open(
    token: str,
    db_url: str,
    towns: Iterable[TownLike] = (),
    writer_bigrams: bool = False,
    bulk_inserts: bool = False,
) -> None:
    """Open the store `token` names in the writer process (the caller made the schema), with
    the caller's store's `writer_bigrams` and `bulk_inserts`."""
    engine = make_engine(db_url)
    try:
        store = RecordStore(engine, towns=towns)
        store.writer_bigrams = writer_bigrams
        store.bulk_inserts = bulk_inserts
        _STORES[token] = _Open(store)
    except BaseException:
        engine.dispose()
        raise


def process_save(token: str, items: list[dict], run_id: str) -> dict[str, int]:
    """`RecordStore.save_items` in the writer process; nothing once a batch of `token` has
    failed."""
    opened = _STORES[token]
    if opened.failed:
        return {}
    try:
        return opened.store.save_items(items, run_id)
    except BaseException as exc:
        opened.failed = True
        if isinstance(exc, STORE_ERRORS):
            # Only our own one-line errors cross a process boundary; driver errors may not
            # pickle.
            raise translate_error(exc, opened.store.engine) from None
        raise


def process_close(token: str) -> None:
    opened = _STORES.pop(token, None)
    if opened is not None:
        opened.store.engine.dispose()
