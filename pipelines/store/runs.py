"""Crawl-run bookkeeping of the store: the `crawl_runs` row a crawl or reindex starts and
finishes (`CrawlRuns`, a mixin of `RecordStore`), and `ensure_run` for writes that name a run."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from pipelines.store.conflicts import CONFLICT_RETRIES, is_conflict
from pipelines.store.failures import DatabaseError, translated
from pipelines.store.models import CrawlRun
from pipelines.store.stats import ANALYZE_AFTER_ROWS, refresh_statistics
from pipelines.store.transforms import jsonable

__all__ = ["CrawlRuns", "ensure_run"]

RUNNING = "running"
# A worker of a distributed run that never ended (killed): its counters are unknown.
LOST = "lost"


class CrawlRuns:
    """`start_run` / `finish_run` of `RecordStore`, which provides `_session` (one
    transaction, database errors translated), `engine` and `rows_written`."""

    _session: Callable[[], AbstractContextManager[Session]]
    engine: Engine
    rows_written: int

    def start_run(
        self,
        run_id: str,
        args: dict | None = None,
        *,
        kind: str = "crawl",
        worker: str | None = None,
    ) -> None:
        """Record the start of a run (idempotent: a second call only updates `args`, and so
        does a worker of a distributed run whose peer inserted the row first).

        `worker` (a worker of a distributed run) is registered in the row as `running`
        under the row lock: the run reads `running` until every registered worker has
        ended (see `_merge_worker`)."""
        for attempt in range(CONFLICT_RETRIES):
            try:
                with self._session() as s:
                    if worker is not None:
                        _lock_row(s, run_id)
                    run = s.get(CrawlRun, run_id, with_for_update=worker is not None)
                    if run is None:
                        run = CrawlRun(
                            id=run_id,
                            kind=kind,
                            started_at=datetime.now(UTC),
                            status="running",
                            args=jsonable(args or {}),
                            counters={},
                        )
                        s.add(run)
                    elif args is not None:
                        run.args = jsonable(args)
                    if worker is not None:
                        _join_worker(run, worker)
                return
            except DatabaseError as exc:
                if attempt + 1 < CONFLICT_RETRIES and (is_conflict(exc) or _busy(exc)):
                    continue
                raise

    def finish_run(self, run_id: str, status: str, counters: dict | None = None) -> None:
        """Record how a run ended: `status` is the finish reason (`finished`, …).

        Counters naming a `worker_id` are one worker's of a distributed run: they are merged
        into the row under a row lock (see `_merge_worker`), not written over it."""
        counters = dict(counters or {})
        worker = counters.pop("worker_id", None)
        lost = [str(w) for w in counters.pop("lost_workers", None) or ()]
        for attempt in range(CONFLICT_RETRIES):
            try:
                with self._session() as s:
                    if worker is not None:
                        _lock_row(s, run_id)
                    run = s.get(CrawlRun, run_id, with_for_update=worker is not None)
                    if run is None:
                        run = CrawlRun(
                            id=run_id, started_at=datetime.now(UTC), args={}, counters={}
                        )
                        s.add(run)
                    if worker is None:
                        run.finished_at = datetime.now(UTC)
                        run.status = status
                        run.counters = jsonable(counters)
                    else:
                        _merge_worker(run, str(worker), status, jsonable(counters), lost)
                break
            except DatabaseError as exc:
                if attempt + 1 < CONFLICT_RETRIES and (is_conflict(exc) or _busy(exc)):
                    continue
                raise
        if self.rows_written >= ANALYZE_AFTER_ROWS:  # fresh statistics for readers' plans
            with translated(self.engine):
                refresh_statistics(self.engine)


def _lock_row(s: Session, run_id: str) -> None:
    """On SQLite, take the database's write lock before reading the run's row: SQLite has no
    row lock, and a transaction that read before it writes fails at once when another wrote
    meanwhile; writing first waits on the busy timeout instead. (PostgreSQL locks the row
    with `SELECT … FOR UPDATE`.)"""
    if s.get_bind().dialect.name == "sqlite":
        s.execute(
            update(CrawlRun).where(CrawlRun.id == run_id).values(id=run_id),
            execution_options={"synchronize_session": False},
        )


def _join_worker(run: CrawlRun, worker: str) -> None:
    """A worker of a distributed run started: it is `running` in the row until it ends, and
    so is the run."""
    counters = dict(run.counters or {})
    workers = dict(counters.get("workers") or {})
    if (workers.get(worker) or {}).get("status") not in (None, RUNNING, LOST):
        return  # it ended already (a retried start after its end changes nothing)
    workers[worker] = {"status": RUNNING, "started_at": datetime.now(UTC).isoformat()}
    run.counters = {**counters, "workers": workers}
    run.status = RUNNING
    run.finished_at = None


def _merge_worker(
    run: CrawlRun, worker: str, status: str, counters: dict, lost: Iterable[str] = ()
) -> None:
    """One worker's end folded into the run's row: its counters kept under `workers`, the
    totals their sums (so a worker finishing twice is counted once).

    `lost`: workers the ending one knows to be gone without ending (their heartbeat expired,
    as a SIGKILLed worker's does); those still `running` in the row become `lost`. The run is
    `running` while any registered worker is; then its status is the first other than
    `finished` (a worker that failed or was lost makes the run so), else `finished`, and
    `finished_at` the latest end."""
    now = datetime.now(UTC)
    workers = dict((run.counters or {}).get("workers") or {})
    workers[worker] = {**counters, "status": status, "finished_at": now.isoformat()}
    for gone in lost:
        if gone != worker and (workers.get(gone) or {}).get("status") == RUNNING:
            workers[gone] = {**workers[gone], "status": LOST, "lost_at": now.isoformat()}
    totals: dict = {}
    for each in workers.values():
        for key, value in each.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
    run.counters = {**totals, "workers": workers}
    statuses = [w["status"] for w in workers.values()]
    if RUNNING in statuses:
        run.status = RUNNING
        run.finished_at = None
        return
    finished = run.finished_at
    if finished is not None and finished.tzinfo is None:
        finished = finished.replace(tzinfo=UTC)
    run.finished_at = now if finished is None or finished < now else finished
    failed = [each for each in statuses if each != "finished"]
    run.status = failed[0] if failed else "finished"


def _busy(exc: BaseException) -> bool:
    """SQLite refused a write for a concurrent writer's (its snapshot is stale): try again."""
    return "locked" in str(exc).lower() or "busy" in str(exc).lower()


def ensure_run(s: Session, run_id: str | None) -> None:
    """Add a `running` row for `run_id` when none is stored, so the captures written in this
    session may name the run (`captures.crawl_run_id` is a foreign key)."""
    if run_id is not None and s.get(CrawlRun, run_id) is None:
        s.add(
            CrawlRun(
                id=run_id,
                started_at=datetime.now(UTC),
                status="running",
                args={},
                counters={},
            )
        )
        s.flush()
