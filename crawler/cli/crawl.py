"""`dgarchive crawl`: options, pre-flight checks (site root, archive, database, locks), then
the Scrapy crawl and its exit code."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from crawler.cli.base import EPILOG, UsageError, project_settings
from crawler.config import ConfigError, load_towns, select_columns, validate_site_root
from crawler.exitcodes import ExitCode

log = logging.getLogger("dgarchive")


def register(sub: Any) -> None:
    crawl = sub.add_parser(
        "crawl",
        help="crawl town news columns into WARC files and the database",
        description="Crawl the configured town news columns (all of them when none is named). "
        "Incremental by default: stored articles are not fetched again.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    crawl.add_argument(
        "--town",
        action="append",
        default=[],
        metavar="SLUG",
        help="a town slug, e.g. houjie (repeatable)",
    )
    crawl.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="PATH",
        help="a column path under the site root, e.g. houjie/cjjs/tshj/ (repeatable)",
    )
    crawl.add_argument(
        "--site-root",
        metavar="URL",
        help="crawl a mirror of www.dg.gov.cn at URL (default https://www.dg.gov.cn/)",
    )
    crawl.add_argument(
        "--towns",
        metavar="FILE",
        help="towns and columns from FILE instead of the bundled crawler/towns.toml",
    )
    crawl.add_argument(
        "--archive",
        metavar="DIR",
        help="WARC output directory (default ./archive, or $DGARCHIVE_ARCHIVE)",
    )
    crawl.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default SQLite ./dgarchive.sqlite, or $DGARCHIVE_DB)",
    )
    crawl.add_argument("--report", metavar="FILE", help="write a JSON run report to FILE")
    crawl.add_argument(
        "--full", action="store_true", help="walk every list page, not only the new ones"
    )
    crawl.add_argument(
        "--revisit-older-than",
        type=float,
        metavar="DAYS",
        help="re-check stored articles fetched more than DAYS ago with conditional requests",
    )
    crawl.add_argument(
        "--discovery",
        choices=["pages", "feed"],
        help="find articles through list pages (default) or the column JSON feed where known",
    )
    crawl.add_argument(
        "--no-db", action="store_true", help="archive only; do not write the database"
    )
    crawl.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a Scrapy setting, as with scrapy crawl -s",
    )
    crawl.add_argument(
        "--frontier",
        metavar="URL",
        help="join a distributed crawl on this Redis frontier, redis://HOST:PORT/DB "
        "(or $DGARCHIVE_FRONTIER; needs dgarchive[distributed])",
    )
    crawl.add_argument(
        "--idle-exit",
        type=float,
        metavar="SECONDS",
        help="with --frontier: exit once the whole run has been idle this long (default 10)",
    )
    crawl.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Any = None) -> int:
    from pipelines import writerboot

    if not (args.no_db or args.frontier):
        # The database writer's process and its imports start now, beside this process's
        # reading of the settings and Scrapy's imports; `_prestart_writer` gives it its
        # database under the locks (docs/architecture.md, "Start-up").
        writerboot.warm()
    try:
        return _run(args, settings)
    finally:
        writerboot.discard()  # a writer nobody took: the crawl ended before its pipeline opened


def _run(args: argparse.Namespace, settings: Any = None) -> int:
    settings = settings if settings is not None else project_settings()
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"-s takes NAME=VALUE, got {item!r}")
        settings.set(name.strip(), value, priority="cmdline")
    try:
        # `--site-root ""` (an unset variable in a crontab) is a mistake, not the live site.
        given = args.site_root if args.site_root is not None else settings.get("CRAWL_SITE_ROOT")
        site_root = validate_site_root(given)
        towns_file = str(Path(args.towns).resolve()) if args.towns else None
        towns = load_towns(path=towns_file)
        select_columns(towns, args.town, args.column)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if towns_file:  # the database names new town and column rows from the same file
        settings.set("DB_TOWNS", towns, priority="cmdline")

    archive = Path(args.archive or settings.get("WARC_DIR")).resolve()
    db_url = args.db or settings.get("DB_URL")
    run_id = str(uuid.uuid4())
    settings.set("CRAWL_SITE_ROOT", site_root, priority="cmdline")
    settings.set("WARC_DIR", str(archive), priority="cmdline")
    settings.set("WARC_CRAWL_ID", run_id, priority="cmdline")
    settings.set("CRAWL_RUN_ID", run_id, priority="cmdline")
    settings.set("DB_URL", db_url, priority="cmdline")
    if args.no_db:
        settings.set("DB_ENABLED", False, priority="cmdline")
    if args.report:
        settings.set("REPORT_FILE", str(Path(args.report).resolve()), priority="cmdline")
    if args.revisit_older_than is not None:
        if args.revisit_older_than < 0:
            raise UsageError("--revisit-older-than takes a number of days >= 0")
        settings.set("CRAWL_REVISIT_OLDER_THAN", args.revisit_older_than, priority="cmdline")
    if args.discovery:
        settings.set("CRAWL_DISCOVERY", args.discovery, priority="cmdline")

    try:
        archive.mkdir(parents=True, exist_ok=True)
        probe = archive / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        print(
            f"dgarchive: error: archive directory {archive} is not writable: {exc.strerror}",
            file=sys.stderr,
        )
        return ExitCode.ARCHIVE_ERROR

    frontier = None
    if args.frontier or settings.get("DISTRIBUTED_FRONTIER"):
        from crawler.distributed.worker import FrontierError, FrontierHeld, start_worker
        from pipelines import writerboot

        writerboot.discard()  # a worker's pipeline starts its own writer (for its worker id)

        url = args.frontier or settings.get("DISTRIBUTED_FRONTIER")
        try:
            frontier = start_worker(url, settings, args, site_root, db_url, args.idle_exit)
        except FrontierHeld as exc:
            print(f"dgarchive: error: {exc}", file=sys.stderr)
            return ExitCode.LOCK_HELD
        except FrontierError as exc:
            print(f"dgarchive: error: {exc}", file=sys.stderr)
            return ExitCode.DATABASE_UNREACHABLE
        run_id = settings.get("CRAWL_RUN_ID")

    db_file: Path | None = None  # the SQLite file of the database, locked beside
    if settings.getbool("DB_ENABLED"):
        if frontier is not None:  # one worker at a time creates or upgrades the schema
            from crawler.distributed.worker import prepare_database
            from pipelines.store import sqlite_file

            prepare_database(frontier, db_url)
            db_file = sqlite_file(db_url)
        else:
            db_file = _check_database(db_url)

    from crawler.dblock import DatabaseLock
    from crawler.runlock import LockHeldError, RunLock, lock_paths_for_file

    shared = frontier is not None  # workers of one run share the locks (docs/operations.md)
    with ExitStack() as stack:
        try:
            use_db = settings.getbool("DB_ENABLED")
            for path in lock_paths_for_file(archive, db_file):
                stack.enter_context(RunLock(path, run_id=run_id, argv=sys.argv, shared=shared))
            if use_db and DatabaseLock.applies_to(db_url):
                stack.enter_context(DatabaseLock(db_url, run_id=run_id, shared=shared))
        except LockHeldError as exc:
            print(f"dgarchive: error: {exc}", file=sys.stderr)
            return ExitCode.LOCK_HELD
        if frontier is None and _prestart_writer(settings, db_url):
            from pipelines import writerboot

            # Before the locks are released, if the crawl ends before its pipeline opens:
            # the writer may still be bringing the schema to head.
            stack.callback(writerboot.discard)
        code = _run_spider(settings, args, site_root, frontier)
        if settings.getbool("ARCHIVE_INDEX", True):  # still under the lock: one indexer at a time
            _index_archive(archive, settings.getint("INDEX_ZIPNUM_THRESHOLD", 0))
        return code


def _check_database(db_url: str) -> Path | None:
    """The database's pre-flight check (`check_database`: the URL, the server, the schema's
    revision, a write probe), before the locks; the SQLite file to lock beside, if any.
    In the writer process `run` warmed, when there is one: this process loads the crawl's
    modules meanwhile, and on SQLite never imports SQLAlchemy (docs/architecture.md,
    "Start-up"). Raises the same `DatabaseError`s."""
    from concurrent.futures import BrokenExecutor

    from pipelines import writerboot

    pending = writerboot.ask_warm("writer_check", db_url)
    if pending is not None:
        _load_crawl_modules()
        try:
            return pending.result()
        except BrokenExecutor:  # the warm writer died: check here, and start another later
            log.debug("the warm writer process died before its database check")
            writerboot.discard()
    from pipelines.store import check_database, sqlite_file

    check_database(db_url)
    return sqlite_file(db_url)


def _load_crawl_modules() -> None:
    """What `_run_spider` imports first (Scrapy's engine and HTTP handler, the spider)."""
    _import_http_handler()
    import scrapy.crawler  # noqa: F401

    import crawler.spiders.town_news  # noqa: F401


def _prestart_writer(settings: Any, db_url: str) -> bool:
    """Give the database writer's process (started by `run`, else now) its database, under
    the locks, so that its schema check runs on the other core while this process loads
    Scrapy, instead of after it, before the first request (docs/architecture.md,
    "Start-up"). The pipeline takes it when it opens; if it cannot be started here, the
    pipeline starts its own then, as it always did, and fails there if it must."""
    from pipelines import writerboot

    pipelines = settings.getdict("ITEM_PIPELINES")
    if not (
        settings.getbool("DB_ENABLED")
        and settings.get("DB_WRITER", "process") == "process"
        and db_url
        and pipelines.get("pipelines.database.DatabasePipeline") is not None
    ):
        writerboot.discard()  # no writer process, or none by that name: the pipeline's own
        return False
    try:
        writerboot.prestart(db_url)
    except Exception:  # the pipeline starts its own at open and reports a failure there
        log.debug("the database writer was not started early", exc_info=True)
        writerboot.discard()
        return False
    return True


def _index_archive(archive: Path, zipnum_threshold: int = 0) -> None:
    """Add the run's WARC files to the replay index (`dgarchive index`); a failure is a
    warning, not the crawl's: the WARC files are complete and the next run retries."""
    from pipelines.warc.cdxj import DEFAULT_ZIPNUM_THRESHOLD, update_index

    try:
        result = update_index(archive, zipnum_threshold=zipnum_threshold or DEFAULT_ZIPNUM_THRESHOLD)
    except OSError as exc:
        log.warning("the replay index of %s was not updated: %s", archive, exc)
        return
    for name, reason in result.failed.items():
        log.warning("replay index: %s left out, it could not be read: %s", name, reason)
    # DEBUG: the run summary stays the last line an operator reads.
    log.debug("replay index: %d WARC file(s) added, %d lines", len(result.files_read), result.lines_total)


def _run_spider(
    settings: Any, args: argparse.Namespace, site_root: str, frontier: Any = None
) -> int:
    # Scrapy and Twisted load here, not at the top: `--help`, `export` and the others start
    # without them.
    _import_http_handler()
    from scrapy.crawler import CrawlerProcess

    from crawler.logs import SCRAPY_LOG_SETTINGS
    from crawler.report import report_exit_code
    from crawler.shutdown import ShutdownSignals
    from crawler.spiders.town_news import TownNewsSpider
    from pipelines.store import DatabaseError

    settings.setdict(SCRAPY_LOG_SETTINGS, priority="cmdline")  # our root handler stays
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(TownNewsSpider)
    crawled = process.crawl(
        crawler,
        town=args.town,
        column=args.column,
        site_root=site_root,
        full=args.full,
        towns_file=str(Path(args.towns).resolve()) if args.towns else None,
    )
    failures: list = []
    crawled.addErrback(failures.append)  # e.g. the database refused the run at open
    # Only now: CrawlerProcess installed the reactor the settings ask for; an earlier import
    # would install Twisted's default one.
    from twisted.internet import reactor

    reactor.addSystemEventTrigger("after", "startup", ShutdownSignals(process).install)
    # Our own handlers, not Scrapy's: its second signal stops the reactor at once, which
    # leaves WARC files `.open` and the pending database batch unwritten (exit 70).
    process.start(install_signal_handlers=False)
    if failures:
        exc = failures[0].value
        if isinstance(exc, DatabaseError):
            print(f"dgarchive: error: {exc}", file=sys.stderr)
            return ExitCode.DATABASE_UNREACHABLE
        log.error("the crawl failed to start", exc_info=(type(exc), exc, exc.__traceback__))
        return ExitCode.SOFTWARE_ERROR
    if frontier is not None:
        from crawler.distributed.worker import publish_report

        publish_report(frontier, crawler)
    return int(report_exit_code(crawler))


def _import_http_handler() -> None:
    """Import Scrapy's HTTP/1.1 download handler without `inspect.stack()`'s cost.

    Its TLS modules build three deprecated aliases with `create_deprecated_class`, which
    calls `inspect.stack()` only to read its caller's module name; that reads the source
    line of each of the 40-odd frames above and, for every frozen importlib frame, walks all
    loaded modules (`inspect.getmodule`): 0.05-0.1 CPU-s, more under load. While the import
    runs, `inspect.stack` returns only the caller's frame, which is all that function reads;
    the aliases get the same `__module__`.
    """
    import inspect

    if "scrapy.core.downloader.handlers.http11" in sys.modules:
        return
    stack = inspect.stack

    def callers_frame(context: int = 1) -> list:
        # [0]: create_deprecated_class's own frame, [1]: the module that called it.
        return [None, (sys._getframe(2),)]

    inspect.stack = callers_frame  # type: ignore[assignment]
    try:
        import scrapy.core.downloader.handlers.http11  # noqa: F401
    finally:
        inspect.stack = stack
