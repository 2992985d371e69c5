"""`dgarchive serve`: a read-only web and JSON API over the SQLite database (Datasette, the
optional `serve` extra), with the metadata crawler/readapi.py generates.

Read-only how: Datasette opens a database file that may change with `?mode=ro` (SQLite
itself refuses writes on those connections) and runs only SELECT statements; the project
defines no writable canned query and loads no plugin. A crawl may keep writing the file
(WAL): each request sees a consistent snapshot. `--immutable` is for a copy nothing writes
to: no locking and cached row counts, but SQLite gives wrong answers if the file changes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from crawler.cli.base import UsageError, db_url_of

DEFAULT_PORT = 8001  # Datasette's own default


def register(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="read-only web/JSON API over the SQLite database (Datasette)",
        description="Serve the SQLite database read-only with Datasette: tables, views, "
        "full-text search (?_search=), canned queries, JSON API. Needs the `serve` extra: "
        "pip install 'dgarchive[serve]'. For PostgreSQL see `dgarchive db grant-reader`.",
    )
    serve.add_argument("--db", metavar="URL", help="SQLite database (default: $DGARCHIVE_DB)")
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT, metavar="N")
    serve.add_argument(
        "--bind",
        default="127.0.0.1",
        metavar="HOST",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    serve.add_argument(
        "-i",
        "--immutable",
        action="store_true",
        help="the file is a copy nothing writes to (faster; wrong answers if it changes)",
    )
    serve.add_argument(
        "--print-metadata",
        action="store_true",
        help="print the generated Datasette metadata (JSON) and exit",
    )
    serve.set_defaults(run=serve_command)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}")
    return port


def serve_command(args: argparse.Namespace, settings: Any = None) -> int:
    from crawler.readapi import database_columns, datasette_metadata
    from pipelines.store import make_engine, shown_url, sqlite_file, translated

    url = db_url_of(args)
    path = sqlite_file(url)
    if path is None:
        raise UsageError(
            f"serve needs an SQLite database file, not {shown_url(url)}; for PostgreSQL, "
            "`dgarchive db grant-reader ROLE` makes a read-only role for apps"
        )
    engine = make_engine(f"sqlite:///{path}?mode=ro", must_exist=True)
    try:
        with translated(engine):
            columns = database_columns(engine)
    finally:
        engine.dispose()
    if "articles" not in columns:
        raise UsageError(f"{shown_url(url)} has no dgarchive schema (run `dgarchive db upgrade`)")
    metadata = datasette_metadata(path.stem, columns)
    if args.print_metadata:
        json.dump(metadata, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    try:
        from datasette.cli import cli
    except ImportError:
        raise UsageError(
            "serve needs Datasette: pip install 'dgarchive[serve]' (or 'datasette>=0.65')"
        ) from None
    if args.bind not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"dgarchive: serving on {args.bind}: anyone who can reach it can read the database",
            file=sys.stderr,
        )
    with tempfile.TemporaryDirectory(prefix="dgarchive-serve-") as tmp:
        meta_file = Path(tmp) / "metadata.json"
        meta_file.write_text(json.dumps(metadata, ensure_ascii=False), encoding="utf-8")
        argv = [
            "serve",
            *(["-i", str(path)] if args.immutable else [str(path)]),
            "--metadata",
            str(meta_file),
            "--host",
            args.bind,
            "--port",
            str(args.port),
        ]
        # In this process: Datasette's server (uvicorn) handles SIGINT/SIGTERM itself.
        cli.main(argv, prog_name="datasette", standalone_mode=False)
    return 0
