"""The `dgarchive` command: the parser, logging, dispatch to one module per command, and the
mapping of known failures to exit codes.

A command is a module here with `register(subparsers)`, which adds its parser and sets
`run(args, settings) -> int` as its default; `COMMANDS` lists them in `--help` order.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from typing import Any

from crawler import __version__
from crawler.cli import archive, crawl, db, records, runreport, serve, towns
from crawler.cli.base import EPILOG, Parser, UsageError

__all__ = ["COMMANDS", "UsageError", "build_parser", "console", "main"]

COMMANDS = (crawl, records, db, archive, serve, towns, runreport)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="dgarchive",
        description="Archive the town news columns of www.dg.gov.cn into WARC files and a "
        "relational database of articles and interviews.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dgarchive {__version__}")
    _logging_options(parser)
    parser.set_defaults(log_format="text", log_level="INFO", quiet=False)
    # The logging options work before or after the command (`dgarchive crawl --log-format json`).
    common = Parser(add_help=False)
    _logging_options(common)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    add_parser = sub.add_parser

    def add_with_common(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return add_parser(name, parents=[common], **kwargs)

    sub.add_parser = add_with_common  # type: ignore[method-assign]
    for command in COMMANDS:
        command.register(sub)
    return parser


def _logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=argparse.SUPPRESS,
        help="log lines as text (default) or JSON objects, one a line",
    )
    parser.add_argument(
        "--log-level", default=argparse.SUPPRESS, help="DEBUG, INFO (default), WARNING, ERROR"
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="only warnings and errors",
    )


def main(argv: list[str] | None = None, settings: Any = None) -> int:
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
        return _dispatch(args, settings)
    except BrokenPipeError:  # `dgarchive export | head`: the reader left; not an error of ours
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def console() -> int:
    """The `dgarchive` console script and `python -m crawler.cli`: `main()`, then a quick exit.

    The interpreter's exit collects garbage over every object still alive, and the modules a
    command imported hold hundreds of thousands (SQLAlchemy's ORM alone costs 0.09 s there;
    `reindex` spent 0.13-0.18 s between its return and the process's end, a core's work
    after the other had finished). `gc.freeze()` moves them out of the collector's reach, so
    the exit only releases them. Nothing of ours relies on that last collection: the WARC
    files, the database and the logs are closed by the command itself, and atexit handlers
    still run. Not in `main()`, which tests call in their own process."""
    code = main()
    gc.freeze()
    return code


def _dispatch(args: argparse.Namespace, settings: Any = None) -> int:
    try:
        return args.run(args, settings)
    except UsageError as exc:
        print(f"dgarchive: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # The store's errors, without importing the store (and SQLAlchemy) for the commands
        # that never open a database (`extract`): a command that raised one imported it.
        store = sys.modules.get("pipelines.store")
        if store is not None and isinstance(exc, store.BadDatabaseUrlError):
            print(f"dgarchive: error: {exc}", file=sys.stderr)
            return 2
        if store is not None and isinstance(exc, store.DatabaseError):
            # One line for known failures; a traceback only for bugs.
            print(f"dgarchive: error: {exc}", file=sys.stderr)
            return 5
        raise


if __name__ == "__main__":
    sys.exit(console())
