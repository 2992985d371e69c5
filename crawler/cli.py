"""The `dgarchive` command: argument parsing, pre-flight checks and exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import uuid
from datetime import date
from pathlib import Path

from crawler import __version__
from crawler.config import ConfigError, load_towns, select_columns, validate_site_root

log = logging.getLogger("dgarchive")

EPILOG = """\
exit codes:
  0  success
  1  success, but some pages failed (see the log or --report)
  2  usage error (unknown town or column, malformed URL or argument)
  3  another crawl holds the lock on this archive or database
  4  the site could not be reached
  5  the database could not be reached, is read-only, or its schema is newer than this program
  6  the archive could not be written (e.g. disk full)
  70 internal error: a bug stopped the crawl (the log has its traceback; please report it)
  130 interrupted (SIGINT/SIGTERM; a second signal aborts the downloads in flight)
"""


class UsageError(Exception):
    """A wrong argument: exit 2 with a one-line message."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dgarchive",
        description="Archive the town news columns of www.dg.gov.cn into WARC files and a "
        "relational database of articles and interviews.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dgarchive {__version__}")
    _logging_options(parser, argparse.SUPPRESS)
    parser.set_defaults(log_format="text", log_level="INFO", quiet=False)
    # The logging options work before or after the command (`dgarchive crawl --log-format json`).
    common = _Parser(add_help=False)
    _logging_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_parser = sub.add_parser

    def add_parser(name, **kwargs):
        return _add_parser(name, parents=[common], **kwargs)

    sub.add_parser = add_parser

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

    extract = sub.add_parser(
        "extract", help="print the record of a saved page or of a WARC file's articles"
    )
    extract.add_argument("file", metavar="FILE")
    extract.add_argument("--url", help="the page's URL (for an HTML file)")

    export = sub.add_parser("export", help="print the stored records as JSON lines or CSV")
    export.add_argument("--db", metavar="URL")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument(
        "--since",
        metavar="DATE",
        type=_date,
        help="only articles published on or after DATE (YYYY-MM-DD)",
    )

    reindex = sub.add_parser("reindex", help="rebuild the database from WARC files alone")
    reindex.add_argument("--archive", metavar="DIR", required=True)
    reindex.add_argument("--db", metavar="URL")

    db = sub.add_parser("db", help="database schema commands")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=_Parser)
    upgrade = dbsub.add_parser("upgrade", help="bring the schema to the newest migration")
    upgrade.add_argument("--db", metavar="URL")
    return parser


def _logging_options(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=default,
        help="log lines as text (default) or JSON objects, one a line",
    )
    parser.add_argument(
        "--log-level", default=default, help="DEBUG, INFO (default), WARNING, ERROR"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=default, help="only warnings and errors"
    )


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _settings():
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    from scrapy.utils.project import get_project_settings

    return get_project_settings()


def _default_db(args) -> str:
    return args.db or _settings().get("DB_URL")


def main(argv: list[str] | None = None, settings=None) -> int:  # noqa: ANN001
    """The command. `settings` (Scrapy `Settings`) replaces the project settings: the
    `scrapy crawl` alias (crawler.commands.crawl) passes those Scrapy parsed for it."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from crawler.logs import configure_logging

    level = "WARNING" if args.quiet else args.log_level.upper()
    configure_logging(args.log_format, level, args.quiet)
    if level != "DEBUG":  # migrations announce every step at INFO; only problems matter here
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return _dispatch(parser, args, settings)
    except BrokenPipeError:  # `dgarchive export | head`: the reader left; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _dispatch(parser: argparse.ArgumentParser, args, settings=None) -> int:  # noqa: ANN001
    try:
        if args.command == "crawl":
            return crawl(args, settings)
        if args.command == "extract":
            from crawler.extracting import run

            return run(args.file, args.url, sys.stdout, sys.stderr)
        if args.command == "export":
            from crawler.exporting import run_export

            url = _default_db(args)
            return run_export(url, args.format, args.since, sys.stdout)
        if args.command == "reindex":
            from crawler.reindexing import run_reindex

            return run_reindex(args.archive, _default_db(args), sys.stdout, sys.stderr)
        if args.command == "db":
            if args.db_command != "upgrade":
                parser.exit(2, "dgarchive: error: db needs an action: upgrade\n")
            from pipelines.store import shown_url, upgrade

            url = _default_db(args)
            upgrade(url)
            print(f"database at head: {shown_url(url)}", file=sys.stderr)
            return 0
    except UsageError as exc:
        print(f"dgarchive: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # one line for known failures; a traceback only for bugs
        from pipelines.store import BadDatabaseUrlError, DatabaseError

        if isinstance(exc, BadDatabaseUrlError):
            print(f"dgarchive: error: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, DatabaseError):
            print(f"dgarchive: error: {exc}", file=sys.stderr)
            return 5
        raise
    return 0


def crawl(args, settings=None) -> int:  # noqa: ANN001
    from crawler.exitcodes import ExitCode

    settings = settings if settings is not None else _settings()
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"-s takes NAME=VALUE, got {item!r}")
        settings.set(name.strip(), value, priority="cmdline")
    try:
        # `--site-root ""` (an unset variable in a crontab) is a mistake, not the live site.
        given = args.site_root if args.site_root is not None else settings.get("CRAWL_SITE_ROOT")
        site_root = validate_site_root(given)
        select_columns(load_towns(), args.town, args.column)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None

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

    if settings.getbool("DB_ENABLED"):
        from pipelines.store import check_database

        check_database(db_url)

    from contextlib import ExitStack

    from crawler.runlock import DatabaseLock, LockHeldError, RunLock, lock_paths

    with ExitStack() as stack:
        try:
            use_db = settings.getbool("DB_ENABLED")
            for path in lock_paths(archive, db_url if use_db else None):
                stack.enter_context(RunLock(path, run_id=run_id, argv=sys.argv))
            if use_db and DatabaseLock.applies_to(db_url):
                stack.enter_context(DatabaseLock(db_url, run_id=run_id))
        except LockHeldError as exc:
            print(f"dgarchive: error: {exc}", file=sys.stderr)
            return ExitCode.LOCK_HELD
        return _run_spider(settings, args, site_root)


def _run_spider(settings, args, site_root: str) -> int:
    from scrapy.crawler import CrawlerProcess

    from crawler.exitcodes import ExitCode
    from crawler.logs import SCRAPY_LOG_SETTINGS
    from crawler.report import report_exit_code
    from crawler.spiders.town_news import TownNewsSpider

    settings.setdict(SCRAPY_LOG_SETTINGS, priority="cmdline")  # our root handler stays
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(TownNewsSpider)
    crawled = process.crawl(
        crawler,
        town=args.town,
        column=args.column,
        site_root=site_root,
        full=args.full,
    )
    failures: list = []
    crawled.addErrback(failures.append)  # e.g. the database refused the run at open
    from twisted.internet import reactor

    from crawler.shutdown import ShutdownSignals

    reactor.addSystemEventTrigger("after", "startup", ShutdownSignals(process).install)
    # Our own handlers, not Scrapy's: its second signal stops the reactor at once, which
    # leaves WARC files `.open` and the pending database batch unwritten (exit 70).
    process.start(install_signal_handlers=False)
    if failures:
        from pipelines.database import DatabaseError

        exc = failures[0].value
        if isinstance(exc, DatabaseError):
            print(f"dgarchive: error: {exc}", file=sys.stderr)
            return ExitCode.DATABASE_UNREACHABLE
        log.error("the crawl failed to start", exc_info=(type(exc), exc, exc.__traceback__))
        return ExitCode.SOFTWARE_ERROR
    return int(report_exit_code(crawler))


if __name__ == "__main__":
    sys.exit(main())
