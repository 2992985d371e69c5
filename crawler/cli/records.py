"""`dgarchive extract`, `export` and `reindex`: the commands that read pages, WARC files and
the database, with no network."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
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
    export.add_argument(
        "--changed-since",
        metavar="TIMESTAMP",
        type=_timestamp,
        help="only articles with a new version or status at or after TIMESTAMP "
        "(ISO 8601; without an offset, UTC; a bare date is its UTC midnight)",
    )
    export.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write to FILE (through a temporary file, renamed when complete)",
    )
    export.add_argument(
        "--bom", action="store_true", help="start with a UTF-8 byte order mark (Excel and CSV)"
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


def _timestamp(value: str) -> datetime:
    from pipelines.dates import parse_iso

    try:
        parsed = parse_iso(value.strip(), UTC)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None:
        raise argparse.ArgumentTypeError(
            f"not a timestamp (ISO 8601, e.g. 2026-11-22T00:15:00Z): {value!r}"
        )
    return parsed


def extract_command(args: argparse.Namespace, settings: Any = None) -> int:
    from crawler.extracting import run

    return run(args.file, args.url, sys.stdout, sys.stderr)


def export_command(args: argparse.Namespace, settings: Any = None) -> int:
    from crawler.exporting import export_to, run_export

    return export_to(
        args.output,
        lambda out: run_export(
            db_url_of(args),
            args.format,
            args.since,
            out,
            changed_since=args.changed_since,
            bom=args.bom,
        ),
    )


def reindex_command(args: argparse.Namespace, settings: Any = None) -> int:
    from crawler.reindexing import run_reindex

    return run_reindex(args.archive, db_url_of(args), sys.stdout, sys.stderr)
