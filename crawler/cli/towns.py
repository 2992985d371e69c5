"""`dgarchive towns discover` and `dgarchive towns check`: find the towns' news columns on
the site itself and check the configured ones, politely and into the WARC archive."""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from crawler.cli.base import EPILOG, UsageError, project_settings
from crawler.config import ConfigError, load_towns, select_columns, validate_site_root
from crawler.exitcodes import ExitCode


def register(sub: Any) -> None:
    towns = sub.add_parser(
        "towns",
        help="discover the towns' news columns on the site; check the configured ones",
        description="Discover the towns' news columns from the site's own navigation and "
        "feeds, or check that every configured column still answers as a list page.",
    )
    actions = towns.add_subparsers(dest="towns_command", metavar="ACTION", required=True)
    discover = actions.add_parser(
        "discover",
        help="find each town's news columns (with --write, update the towns file)",
        description="For each town fetch its home page (the configured folder, the slug, "
        "then the alternatives), follow its navigation inside the town's folder and its "
        "column feeds' children, and print every news column: path, name, feed id, list "
        "pages and newest article date. Requests obey robots.txt and are archived.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(discover)
    discover.add_argument(
        "--write",
        action="store_true",
        help="update the towns file: add the columns found, remove the ones proven wrong, "
        "mark what was seen verified = true (comments are kept)",
    )
    discover.add_argument(
        "--depth", type=int, default=2, metavar="N", help="navigation levels to follow (2)"
    )
    discover.set_defaults(run=run_discover)
    check = actions.add_parser(
        "check",
        help="one request per configured column: ok, moved, gone or not a list page",
        description="Fetch the first list page of every configured column (redirects are "
        "reported, not followed) and print a table. Exit 0 only when every column is ok.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(check)
    check.set_defaults(run=run_check)


def _common(parser: argparse.ArgumentParser) -> None:
    from crawler.cli import _logging_options  # -q, --log-format after the action too

    _logging_options(parser)
    parser.add_argument(
        "--town", action="append", default=[], metavar="SLUG", help="a town slug (repeatable)"
    )
    parser.add_argument(
        "--site-root", metavar="URL", help="a mirror of www.dg.gov.cn (default the live site)"
    )
    parser.add_argument(
        "--towns", metavar="FILE", help="the towns file (default the bundled crawler/towns.toml)"
    )
    parser.add_argument(
        "--archive", metavar="DIR", help="WARC output directory (default ./archive)"
    )
    parser.add_argument(
        "-s", "--set", action="append", default=[], metavar="NAME=VALUE",
        help="set a Scrapy setting, as with scrapy crawl -s",
    )  # fmt: skip


def _run_spider(args: argparse.Namespace, mode: str, **spider_args: Any) -> Any:
    """Run TownColumnsSpider with the crawl's settings (archive on, database off); the
    spider, or an exit code when the run could not start."""
    settings = project_settings()
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"-s takes NAME=VALUE, got {item!r}")
        settings.set(name.strip(), value, priority="cmdline")
    towns_file = str(Path(args.towns).resolve()) if args.towns else None
    try:
        given = args.site_root if args.site_root is not None else settings.get("CRAWL_SITE_ROOT")
        site_root = validate_site_root(given)
        select_columns(load_towns(path=towns_file), args.town, [])
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    archive = Path(args.archive or settings.get("WARC_DIR")).resolve()
    try:
        archive.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"dgarchive: error: archive directory {archive}: {exc.strerror}", file=sys.stderr)
        return ExitCode.ARCHIVE_ERROR
    run_id = str(uuid.uuid4())
    for name, value in (("CRAWL_SITE_ROOT", site_root), ("WARC_DIR", str(archive)),
                        ("WARC_CRAWL_ID", run_id), ("CRAWL_RUN_ID", run_id),
                        ("DB_ENABLED", False)):  # fmt: skip
        settings.set(name, value, priority="cmdline")

    from scrapy.crawler import CrawlerProcess

    from crawler.logs import SCRAPY_LOG_SETTINGS
    from crawler.runlock import LockHeldError, RunLock, lock_paths
    from crawler.spiders.town_columns import TownColumnsSpider

    settings.setdict(SCRAPY_LOG_SETTINGS, priority="cmdline")
    # No items to store, and no crawl report: the printed table is this run's report.
    settings.set("ITEM_PIPELINES", {}, priority="cmdline")
    extensions = dict(settings.getdict("EXTENSIONS"))
    extensions["crawler.report.RunReport"] = None
    settings.set("EXTENSIONS", extensions, priority="cmdline")
    with ExitStack() as stack:
        try:
            for path in lock_paths(archive, None):  # one writer of an archive at a time
                stack.enter_context(RunLock(path, run_id=run_id, argv=sys.argv))
        except LockHeldError as exc:
            print(f"dgarchive: error: {exc}", file=sys.stderr)
            return ExitCode.LOCK_HELD
        process = CrawlerProcess(settings)
        crawler = process.create_crawler(TownColumnsSpider)
        process.crawl(
            crawler, town=args.town, site_root=site_root, towns_file=towns_file, mode=mode,
            **spider_args,
        )  # fmt: skip
        process.start()
    return crawler.spider


def run_discover(args: argparse.Namespace, settings: Any = None) -> int:
    if args.depth < 0:
        raise UsageError("--depth takes a number >= 0")
    spider = _run_spider(args, "discover", depth=args.depth)
    if isinstance(spider, int):
        return spider
    results = list(spider.results.values())
    missing = 0
    for result in results:
        town = next(t for t in spider.selected if t.slug == result.slug)
        if result.folder is None:
            tried = ", ".join(f"/{f}/" for f in spider.folders.get(result.slug, [result.slug]))
            print(f"{result.slug} ({town.name}): no home page answered (tried {tried})")
            missing += 1
            continue
        print(f"{result.slug} ({town.name}): folder /{result.folder}/")
        if not result.columns:
            print("  no news column found")
            missing += 1
        configured = {c.path for c in town.columns}
        for col in sorted(result.columns.values(), key=lambda c: c.path):
            feed = str(col.feed) if col.feed is not None else "-"
            newest = col.newest.isoformat() if col.newest else "-"
            state = "configured" if col.path in configured else "new"
            print(
                f"  {col.path}\t{col.name}\tfeed {feed}\t{col.pages} list page"
                f"{'s' if col.pages != 1 else ''}\tnewest {newest}\t{state}"
            )
        for path, why in sorted(result.wrong.items()):
            if path not in result.columns:
                print(f"  wrong: {path}: {why}")
        for path, name in sorted(result.not_news.items()):
            print(f"  not news: {path} {name}")
    if args.write:
        _write(args.towns, results)
    return 1 if missing else 0


def _write(towns_path: str | None, results: list) -> None:
    from crawler.townsfile import apply_discovery, bundled_path, read_text

    target = Path(towns_path) if towns_path else bundled_path()
    text, changes = apply_discovery(read_text(towns_path), results)
    load_towns(text)  # never write a file the crawl could not read
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    for change in changes:
        print(f"wrote {target}: {change}")
    if not changes:
        print(f"{target}: nothing to change")


def run_check(args: argparse.Namespace, settings: Any = None) -> int:
    spider = _run_spider(args, "check")
    if isinstance(spider, int):
        return spider
    order = {path: i for i, path in enumerate(spider.columns)}
    rows = sorted(spider.checks, key=lambda r: order.get(r.path, len(order)))
    width = max((len(r.path) for r in rows), default=10)
    print(f"{'column'.ljust(width)}  status")
    for row in rows:
        detail = (
            f" → {row.detail}"
            if row.status == "moved"
            else (f" ({row.detail})" if row.status == "error" else "")
        )
        print(f"{row.path.ljust(width)}  {row.status}{detail}  {row.name}")
    broken = [r for r in rows if r.status != "ok"]
    if broken or len(rows) < len(spider.columns):
        print(
            f"{len(broken)} of {len(spider.columns)} configured columns are not ok", file=sys.stderr
        )
        return 1
    return 0
