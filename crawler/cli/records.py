"""`dgarchive extract`, `export` and `reindex`: the commands that read pages, WARC files and
the database, with no network."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from crawler.cli.base import db_url_of


def register(sub: Any) -> None:
    extract = sub.add_parser(
        "extract", help="print the record of a saved page or of a WARC file's articles"
    )
    extract.add_argument("file", metavar="FILE")
    extract.add_argument("--url", help="the page's URL (for an HTML file)")
    extract.set_defaults(run=extract_command)

    export = sub.add_parser("export", help="print the stored records as JSON lines or CSV")
    export.add_argument("--db", metavar="URL")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument(
        "--since",
        metavar="DATE",
        type=_date,
        help="only articles published on or after DATE (YYYY-MM-DD)",
    )
    export.set_defaults(run=export_command)

    reindex = sub.add_parser("reindex", help="rebuild the database from WARC files alone")
    reindex.add_argument("--archive", metavar="DIR", required=True)
    reindex.add_argument("--db", metavar="URL")
    reindex.set_defaults(run=reindex_command)


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def extract_command(args: argparse.Namespace, settings: Any = None) -> int:
    from crawler.extracting import run

    return run(args.file, args.url, sys.stdout, sys.stderr)


def export_command(args: argparse.Namespace, settings: Any = None) -> int:
    from crawler.exporting import run_export

    return run_export(db_url_of(args), args.format, args.since, sys.stdout)


def reindex_command(args: argparse.Namespace, settings: Any = None) -> int:
    from crawler.reindexing import run_reindex

    return run_reindex(args.archive, db_url_of(args), sys.stdout, sys.stderr)
