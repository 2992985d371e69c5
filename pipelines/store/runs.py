"""Crawl-run bookkeeping of the store: the `crawl_runs` row a crawl or reindex starts and
finishes (`CrawlRuns`, a mixin of `RecordStore`), and `ensure_run` for writes that name a run."""

from __future__ import annotations

from collections.abc import Callable
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


class CrawlRuns:
    """`start_run` / `finish_run` of `RecordStore`, which provides `_session` (one
    transaction, database errors translated), `engine` and `rows_written`."""

    _session: Callable[[], AbstractContextManager[Session]]
    engine: Engine
    rows_written: int

    def start_run(self, run_id: str, args: dict | None = None, *, kind: str = "crawl") -> None:
        """Record the start of a run (idempotent: a second call only updates `args`, and so
        does a worker of a distributed run whose peer inserted the row first)."""
        for attempt in range(CONFLICT_RETRIES):
            try:
                with self._session() as s:
                    run = s.get(CrawlRun, run_id)
                    if run is None:
                        s.add(
                            CrawlRun(
                                id=run_id,
                                kind=kind,
                                started_at=datetime.now(UTC),
                                status="running",
                                args=jsonable(args or {}),
                                counters={},
                            )
                        )
                    elif args is not None:
                        run.args = jsonable(args)
                return
            except DatabaseError as exc:
                if attempt + 1 < CONFLICT_RETRIES and is_conflict(exc):
                    continue
                raise

    def finish_run(self, run_id: str, status: str, counters: dict | None = None) -> None:
        """Record how a run ended: `status` is the finish reason (`finished`, …).

        Counters naming a `worker_id` are one worker's of a distributed run: they are merged
        into the row under a row lock (see `_merge_worker`), not written over it."""
        counters = dict(counters or {})
        worker = counters.pop("worker_id", None)
        for attempt in range(CONFLICT_RETRIES):
            try:
                with self._session() as s:
                    if worker is not None and s.get_bind().dialect.name == "sqlite":
                        # SQLite has no row lock, and a transaction that read before it
                        # writes fails at once when another wrote meanwhile. Writing first
                        # takes the database's write lock, waiting on the busy timeout.
                        s.execute(
                            update(CrawlRun).where(CrawlRun.id == run_id).values(id=run_id),
                            execution_options={"synchronize_session": False},
                        )
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
                        _merge_worker(run, str(worker), status, jsonable(counters))
                break
            except DatabaseError as exc:
                if attempt + 1 < CONFLICT_RETRIES and (is_conflict(exc) or _busy(exc)):
                    continue
                raise
        if self.rows_written >= ANALYZE_AFTER_ROWS:  # fresh statistics for readers' plans
            with translated(self.engine):
                refresh_statistics(self.engine)


def _merge_worker(run: CrawlRun, worker: str, status: str, counters: dict) -> None:
    """One worker's end folded into the run's row: its counters kept under `workers`, the
    totals their sums (so a worker finishing twice is counted once), the latest finish, and
    the first status other than `finished` (a worker that failed makes the run failed)."""
    now = datetime.now(UTC)
    workers = dict((run.counters or {}).get("workers") or {})
    workers[worker] = {**counters, "status": status, "finished_at": now.isoformat()}
    totals: dict = {}
    for each in workers.values():
        for key, value in each.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
    run.counters = {**totals, "workers": workers}
    finished = run.finished_at
    if finished is not None and finished.tzinfo is None:
        finished = finished.replace(tzinfo=UTC)
    run.finished_at = now if finished is None or finished < now else finished
    failed = [w["status"] for w in workers.values() if w["status"] != "finished"]
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
