"""The run report: one crawl's JSON summary, its last log line and its exit code. Scrapy.

Components count into the crawl stats (`db/articles_new`, `warc/bytes_written`, …) and call
`record_failure()`; `RunReport` turns the stats into the report (`crawler.runsummary`) at
`spider_closed`, writes it atomically, and logs the one-line summary when the engine has
stopped, after Scrapy's own closing lines, so it is the run's last log line.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import IgnoreRequest

from crawler.exitcodes import (
    REASON_SITE_UNREACHABLE,
    ExitCode,
    cause_of,
    exit_code_for,
)
from crawler.runlog import CONTENT_TYPE as RUN_LOG_CONTENT_TYPE
from crawler.runlog import RunLog
from crawler.runsummary import build_report, failure_reason, summary_line, write_json_atomic
from pipelines.capture import WarcCapture
from pipelines.failures import FAILURES_KEY, record_failure

if TYPE_CHECKING:
    from scrapy import Spider
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)
_Ext = TypeVar("_Ext")

# A component's own finish reason for a failure found after the close reason was fixed (the
# database pipeline's last batch is written while the spider closes): it wins over
# `finished` and `shutdown`, so such a run cannot exit 0 or 130.
STORE_FAILURE_KEY = "db/failure"

# request.meta key: an error answer to this request is no failure (the site's favicon.ico,
# asked for whether or not the site has one).
OPTIONAL_META_KEY = "dgarchive_optional"


def _is_robots(url: str) -> bool:
    # A missing robots.txt means "no rules", not a failed page.
    return urlsplit(url).path == "/robots.txt"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RunReport:
    """Builds, writes and logs the run report.

    Settings: `REPORT_FILE` (default None: log the summary only), `CRAWL_RUN_ID` (default
    None: a fresh UUID), `CRAWL_SITE_ROOT`. Reads the stats in `runsummary.COUNTERS`,
    `downloader/response_status_count/*`, `crawl/failures` and `warc/files` (a list of file
    names, or a count), and the spider attributes `towns`, `columns` and `site_root` where
    present (the setting when the spider has none).

    With WARC capture on, the report and the run's log (`crawler.runlog`) go into the last
    WARC file as `resource` records, `urn:dgarchive:run:<run id>:report` and `...:log`
    (`archive_records`), so the archive tells how it was made.

    Failures it records itself: every final response with status >= 400 (robots.txt aside),
    every exception in a spider callback (`spider_error`) or item pipeline (`item_error`).
    Download errors reach it through the spider's errbacks and `FailureRecorder`.

    A run that made requests but received not a single response ends as `site_unreachable`,
    unless a more specific reason (database, archive, shutdown) closed it.
    """

    def __init__(
        self,
        stats: Any,
        *,
        report_file: str | os.PathLike[str] | None = None,
        run_id: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
        site_root: str | None = None,
    ) -> None:
        self.stats = stats
        self.report_file = Path(report_file) if report_file else None
        self.run_id = run_id or str(uuid.uuid4())
        self.clock = clock
        self.started_at: datetime | None = None
        self.report: dict[str, Any] | None = None
        self.attempts = 0  # requests that left the downloader, with or without a response
        self.responses = 0  # responses downloaded, whatever their status
        self._logged = False
        self._closed: tuple[Any, str] | None = None
        self.site_root = site_root
        self.run_log: RunLog | None = None
        self.crawler: Any = None

    @property
    def report_uri(self) -> str:
        return f"urn:dgarchive:run:{self.run_id}:report"

    @property
    def log_uri(self) -> str:
        return f"urn:dgarchive:run:{self.run_id}:log"

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunReport:
        ext = cls(
            crawler.stats,
            report_file=crawler.settings.get("REPORT_FILE") or None,
            run_id=crawler.settings.get("CRAWL_RUN_ID") or None,
            site_root=crawler.settings.get("CRAWL_SITE_ROOT") or None,
        )
        ext.crawler = crawler
        if crawler.settings.getbool("WARC_ENABLED", True):
            # From now, so the archived log has Scrapy's lines on settings and components.
            ext.run_log = RunLog().attach()
        connect = crawler.signals.connect
        connect(ext.spider_opened, signal=signals.spider_opened)
        connect(ext.request_left_downloader, signal=signals.request_left_downloader)
        connect(ext.response_downloaded, signal=signals.response_downloaded)
        connect(ext.response_received, signal=signals.response_received)
        connect(ext.spider_error, signal=signals.spider_error)
        connect(ext.item_error, signal=signals.item_error)
        connect(ext.spider_closed, signal=signals.spider_closed)
        connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def spider_opened(self, spider: Any = None) -> None:
        self.started_at = self.clock()
        capture = _find_extension(self.crawler, WarcCapture)
        if capture is not None:
            capture.add_closing_records(self.archive_records)
        elif self.run_log is not None:  # no archive to write it into
            self._drop_run_log()

    def archive_records(self) -> list[tuple[str, str, bytes]]:
        """The report (final: built again if the close reason changed) and the run's log,
        as (URI, content type, payload) for the capture's last records."""
        self._finalize()
        self.log_summary()  # the archived log ends with the summary, as the terminal's does
        records: list[tuple[str, str, bytes]] = []
        if self.report is not None:
            body = json.dumps(self.report, ensure_ascii=False, indent=2) + "\n"
            records.append((self.report_uri, "application/json", body.encode("utf-8")))
        if self.run_log is not None:
            records.append((self.log_uri, RUN_LOG_CONTENT_TYPE, self.run_log.getvalue()))
            self._drop_run_log()
        return records

    def _drop_run_log(self) -> None:
        if self.run_log is not None:
            self.run_log.detach()
            self.run_log.close()
            self.run_log = None

    def request_left_downloader(self, request: Any = None, spider: Any = None) -> None:
        self.attempts += 1

    def response_downloaded(
        self, response: Any = None, request: Any = None, spider: Spider | None = None
    ) -> None:
        self.responses += 1

    def response_received(self, response: Any, request: Any = None, spider: Any = None) -> None:
        optional = request is not None and request.meta.get(OPTIONAL_META_KEY)
        if response.status >= 400 and not _is_robots(response.url) and not optional:
            record_failure(self.stats, response.url, f"HTTP {response.status}")

    def spider_error(self, failure: Any, response: Any, spider: Any = None) -> None:
        record_failure(self.stats, response.url, f"spider error: {failure_reason(failure)}")

    def item_error(
        self, item: Any, response: Any, spider: Any = None, failure: Failure | None = None
    ) -> None:
        url = getattr(response, "url", None) or (item.get("url") if item else None) or "?"
        record_failure(self.stats, url, f"item error: {failure_reason(failure)}")

    def finish_reason(self, reason: str | None) -> str | None:
        """Scrapy's close reason; the store's failure reason (`db/failure`) over `finished`
        or `shutdown`; or `site_unreachable` if not one response ever came."""
        store_failure = self.stats.get_value(STORE_FAILURE_KEY)
        if store_failure and cause_of(reason) in (None, ExitCode.INTERRUPTED):
            return str(store_failure)
        if cause_of(reason) is not None:
            return reason
        if self.attempts and not self.responses:
            return REASON_SITE_UNREACHABLE
        return reason

    def spider_closed(self, spider: Any, reason: str) -> None:
        self._closed = (spider, reason)
        self._build(spider, reason)

    def _build(self, spider: Any, reason: str) -> None:
        self.report = build_report(
            self.stats.get_stats(),
            run_id=self.run_id,
            started_at=self.started_at,
            finished_at=self.clock(),
            finish_reason=self.finish_reason(reason),
            towns=_str_list(getattr(spider, "towns", None)),
            columns=_str_list(getattr(spider, "columns", None)),
            site_root=getattr(spider, "site_root", None) or self.site_root,
        )
        if self.report_file is not None:
            try:
                write_json_atomic(self.report_file, self.report)
            except OSError as exc:
                # The archive is intact; only the summary file is missing. Say so loudly
                # but keep the crawl's own exit code.
                logger.error("could not write the run report %s: %s", self.report_file, exc)
            else:
                logger.info("run report written to %s", self.report_file)

    def _finalize(self) -> None:
        # Handlers of spider_closed that ran after this one (the database pipeline closes its
        # run there) may have failed: build the report again if the reason changed.
        if self._closed is not None and self.report is not None:
            spider, reason = self._closed
            if self.finish_reason(reason) != self.report["finish_reason"]:
                self._build(spider, reason)

    def engine_stopped(self) -> None:
        self._finalize()
        self.log_summary()
        self._drop_run_log()  # the capture did not take it (nothing archived)

    def log_summary(self) -> None:
        """Log the summary line once (the CLI may call it if the engine never stopped)."""
        if self.report is None or self._logged:
            return
        self._logged = True
        code = self.report["exit_code"]
        level = (
            logging.INFO
            if code == ExitCode.OK
            else logging.WARNING
            if code == ExitCode.PARTIAL
            else logging.ERROR
        )
        logger.log(
            level,
            summary_line(self.report),
            extra={
                "dgarchive_summary": True,  # shown even with --quiet (see crawler.logs)
                "run_id": self.report["run_id"],
                "finish_reason": self.report["finish_reason"],
                "exit_code": code,
            },
        )


def _str_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


class FailureRecorder:
    """Downloader middleware: records download errors that no errback handles.

    Enable below RetryMiddleware (550), e.g. at 540, so it sees only the errors that
    survived the retries: `process_exception` runs from the downloader outwards and stops
    at the middleware that returns a retry request. Requests refused by policy
    (`IgnoreRequest`, e.g. robots.txt) are not failures.
    """

    def __init__(self, stats: Any) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> FailureRecorder:
        return cls(crawler.stats)

    def process_exception(self, request: Any, exception: BaseException) -> None:
        if not isinstance(exception, IgnoreRequest):
            record_failure(self.stats, request.url, failure_reason(exception))
        return None


def _find_extension(crawler: Any, kind: type[_Ext]) -> _Ext | None:
    try:
        extensions = crawler.extensions
    except (AttributeError, RuntimeError):  # the crawl failed before its extensions were built
        return None
    for ext in getattr(extensions, "middlewares", ()):
        if isinstance(ext, kind):
            return ext
    return None


def find_report(crawler: Any) -> RunReport | None:
    """The crawler's `RunReport` extension, if it was built."""
    return _find_extension(crawler, RunReport)


def report_exit_code(crawler: Any) -> ExitCode:
    """The exit code of a finished crawl, for the CLI.

    From the report when there is one; else from Scrapy's `finish_reason` stat and the
    failures; `SOFTWARE_ERROR` when the crawl never closed (it broke before or while opening).
    """
    ext = find_report(crawler)
    if ext is not None and ext.report is not None:
        ext.log_summary()
        return ExitCode(ext.report["exit_code"])
    try:
        stats = crawler.stats
    except AttributeError:
        return ExitCode.SOFTWARE_ERROR
    reason = stats.get_value("finish_reason")
    return exit_code_for(reason, len(stats.get_value(FAILURES_KEY) or []))
