"""`dgarchive crawl --frontier URL`: join (or start) the run of a selection, set the worker up,
and publish its report at the end. Called by crawler/cli/crawl.py; no Scrapy imports."""

from __future__ import annotations

import logging
from typing import Any

from crawler.distributed.frontier import Frontier, FrontierError, FrontierHeld, shown

log = logging.getLogger(__name__)

__all__ = [
    "Frontier",
    "FrontierError",
    "FrontierHeld",
    "prepare_database",
    "publish_report",
    "start_worker",
]


def start_worker(
    url: str, settings: Any, args: Any, site_root: str, db_url: str, idle_exit: float | None
) -> Frontier:
    """Join the run of this (database, selection) on the frontier at `url`.

    Raises `FrontierError` (Redis unreachable, or scrapy-redis missing) or `FrontierHeld`."""
    try:
        import scrapy_redis  # noqa: F401 - only to fail early and clearly
    except ImportError:
        raise FrontierError(
            "--frontier needs scrapy-redis: pip install 'dgarchive[distributed]'"
        ) from None
    import redis

    from pipelines.store import shown_url

    frontier = Frontier(url, heartbeat_ttl=settings.getfloat("DISTRIBUTED_HEARTBEAT_TTL", 15.0))
    frontier.check()
    selection = {
        "towns": sorted(args.town),
        "columns": sorted(args.column),
        "site_root": site_root,
        "full": bool(args.full),
        "discovery": args.discovery or settings.get("CRAWL_DISCOVERY"),
        "revisit": args.revisit_older_than,
    }
    db = shown_url(db_url) if settings.getbool("DB_ENABLED") else "no-db"
    try:
        run_id = frontier.join(db, selection)
    except redis.RedisError as exc:
        raise FrontierError(f"the frontier Redis at {shown(url)} failed: {exc}") from None
    from crawler.distributed.components import configure

    configure(settings, frontier)
    # One run id for every worker; WARC names carry the worker id so they never collide.
    settings.set("CRAWL_RUN_ID", run_id, priority="cmdline")
    settings.set("WARC_CRAWL_ID", run_id, priority="cmdline")
    prefix = settings.get("WARC_PREFIX") or "DGARCHIVE"
    settings.set("WARC_PREFIX", f"{prefix}-{frontier.worker_id}", priority="cmdline")
    if idle_exit is not None:
        settings.set("DISTRIBUTED_IDLE_EXIT", idle_exit, priority="cmdline")
    log.info("worker %s joined run %s on %s", frontier.worker_id, run_id, shown(url))
    return frontier


def prepare_database(frontier: Frontier, db_url: str) -> None:
    """The pre-flight check, then the schema brought to head, one worker at a time: workers
    starting together on an empty database would otherwise race to create its tables."""
    from pipelines.store import check_database, ensure_schema, make_engine

    with frontier.redis.lock("dgarchive:schema:mutex", timeout=300, blocking_timeout=300):
        check_database(db_url)
        engine = make_engine(db_url)
        try:
            ensure_schema(engine)
        finally:
            engine.dispose()


def publish_report(frontier: Frontier, crawler: Any) -> None:
    """Store this worker's report in the run (for `dgarchive run-report`)."""
    from crawler.report import find_report

    ext = find_report(crawler)
    if ext is None or ext.report is None:
        return
    report = dict(ext.report)
    stats = crawler.stats.get_stats() if getattr(crawler, "stats", None) else {}
    report["worker_id"] = frontier.worker_id
    report["host_budget"] = stats.get("distributed/host_budget")
    report["requeued"] = int(stats.get("distributed/requeued", 0))
    try:
        if (report["host_budget"] or {}).get("autothrottle"):
            # The run's AutoThrottle delay per host when this worker ended.
            report["host_budget"]["autothrottle"]["delays"] = frontier.host_delays()
        frontier.save_report(report)
    except Exception as exc:  # noqa: BLE001 - Redis gone: the local report still stands
        log.error("could not store the report in the frontier %s: %s", shown(frontier.url), exc)
