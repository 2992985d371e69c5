"""Exit codes of the `dgarchive` command and the crawl finish reasons they map from. Pure."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a run's exit status tells cron or a container supervisor.

    Stable: scripts depend on these numbers (docs/operations.md has the table).
    """

    OK = 0  # the crawl ran to the end and every page was fetched
    PARTIAL = 1  # the crawl ran to the end, but some pages failed (listed in the report)
    USAGE = 2  # unknown town or column, malformed URL or argument
    LOCK_HELD = 3  # another crawl holds the lock on this archive or database
    SITE_UNREACHABLE = 4  # no response at all from the site (DNS, refused, timeouts)
    DATABASE_UNREACHABLE = 5  # the database could not be reached or is not at the schema head
    ARCHIVE_ERROR = 6  # a WARC file could not be written (disk full, permissions)
    SOFTWARE_ERROR = 70  # a bug: the crawl stopped without a finish reason (sysexits EX_SOFTWARE)
    INTERRUPTED = 130  # stopped by SIGINT/SIGTERM (128 + SIGINT, as shells report it)


# Finish reasons (the `reason` of CloseSpider / spider_closed) that components use to stop a
# crawl for a cause the operator must see in the exit status.
REASON_DATABASE = "database_error"
REASON_SITE_UNREACHABLE = "site_unreachable"
REASON_ARCHIVE = "archive_error"
REASON_SHUTDOWN = "shutdown"  # Scrapy's own reason after SIGINT/SIGTERM
REASON_INTERNAL = "internal_error"  # a bug stopped the crawl (logged with its traceback)

REASON_CODES: dict[str, ExitCode] = {
    REASON_DATABASE: ExitCode.DATABASE_UNREACHABLE,
    REASON_SITE_UNREACHABLE: ExitCode.SITE_UNREACHABLE,
    REASON_ARCHIVE: ExitCode.ARCHIVE_ERROR,
    REASON_SHUTDOWN: ExitCode.INTERRUPTED,
    REASON_INTERNAL: ExitCode.SOFTWARE_ERROR,
}
# Components name their reasons after themselves (`warc_write_error`, `db_schema_behind`):
# a prefix is enough to know the cause.
REASON_PREFIXES: tuple[tuple[str, ExitCode], ...] = (
    ("database_", ExitCode.DATABASE_UNREACHABLE),
    ("db_", ExitCode.DATABASE_UNREACHABLE),
    ("archive_", ExitCode.ARCHIVE_ERROR),
    ("warc_", ExitCode.ARCHIVE_ERROR),
    ("site_", ExitCode.SITE_UNREACHABLE),
)


def cause_of(reason: str | None) -> ExitCode | None:
    """The exit code a finish reason names a cause for, or None for any other reason."""
    if reason is None:
        return None
    if reason in REASON_CODES:
        return REASON_CODES[reason]
    for prefix, code in REASON_PREFIXES:
        if reason.startswith(prefix):
            return code
    return None


# Reasons for a crawl that ran as asked: the operator's own limits (CLOSESPIDER_TIMEOUT,
# _ITEMCOUNT, _PAGECOUNT) end a run on purpose, so they count as finished.
COMPLETE_REASONS = frozenset(
    {"finished", "closespider_timeout", "closespider_itemcount", "closespider_pagecount"}
)


def exit_code_for(reason: str | None, failures: int) -> ExitCode:
    """The exit code of a crawl that closed with `reason` after `failures` failed pages.

    A reason that names a cause (database, site, archive, shutdown; see `cause_of`) wins
    over the failure count. Any other reason that is not a normal finish (e.g.
    `closespider_errorcount`, `memusage_exceeded`, a component's own `CloseSpider("…")`)
    means the crawl stopped early: its archive is usable but incomplete, which is PARTIAL.
    """
    if reason is None:
        return ExitCode.SOFTWARE_ERROR
    cause = cause_of(reason)
    if cause is not None:
        return cause
    if reason not in COMPLETE_REASONS or failures:
        return ExitCode.PARTIAL
    return ExitCode.OK
