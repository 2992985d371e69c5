"""What every `dgarchive` command shares: the parser class, usage errors, exit-code help and
the project settings. No command logic here."""

from __future__ import annotations

import argparse
import os
from typing import Any, NoReturn

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


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def project_settings() -> Any:  # scrapy.settings.Settings, imported lazily for start-up time
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    from scrapy.utils.project import get_project_settings

    return get_project_settings()


def db_url_of(args: argparse.Namespace) -> str:
    """`--db`, else the DB_URL setting (which reads $DGARCHIVE_DB)."""
    return args.db or project_settings().get("DB_URL")
