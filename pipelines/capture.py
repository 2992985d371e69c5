"""WarcCapture, the Scrapy extension that archives every HTTP exchange of a crawl. Scrapy side.

It listens on `response_downloaded`, which fires before the downloader middlewares (so
before HttpCompressionMiddleware decodes gzip): the body it sees is the payload as it came
off the wire. Records and files are `pipelines.warc` (no Scrapy there).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

from pipelines import capturemeta as keys
from pipelines.capturemeta import revisit_of
from pipelines.dates import utc_now
from pipelines.warc.builders import new_record_id, sha1_digest
from pipelines.warc.completeness import check_body
from pipelines.warc.heads import HttpHead, default_reason
from pipelines.warc.repair import repair_open_files
from pipelines.warc.runinfo import crawl_fields, run_fields, software_versions
from pipelines.warc.writer import SOFTWARE, RollingWarcWriter, WarcWriteError

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector
    from warcio.recordloader import ArcWarcRecord

logger = logging.getLogger(__name__)

# A closing record: (WARC-Target-URI, Content-Type, payload), e.g. the run report.
ClosingRecord = tuple[str, str, bytes]


class WarcCapture:
    """Writes a request and a response record for every downloaded response.

    Robots.txt, list pages, articles, images, redirects, 404s and 5xx alike. The location of
    the response record goes to `request.meta["warc"]`, from where the spider copies it onto
    items. With `request.meta["dgarchive_revisit"]` (`refers_to_uri`, `refers_to_date`,
    `refers_to_record_id`, `payload_digest` of the stored capture), a 304 becomes a
    server-not-modified revisit and a 200 with the stored payload digest an
    identical-payload-digest revisit; `request.meta["warc_revisit"]` then names the profile.

    Settings:
      WARC_ENABLED (True), WARC_DIR ("archive"), WARC_PREFIX ("DGARCHIVE"),
      WARC_MAX_SIZE (1_000_000_000 bytes), WARC_CRAWL_ID (a new uuid; warcinfo isPartOf),
      and for warcinfo (`pipelines.warc.runinfo.crawl_fields`): ROBOTSTXT_OBEY, USER_AGENT, CONTACT_URL (operator
      and `http-header-from`, unless WARC_OPERATOR names the operator), CRAWL_SITE_ROOT, the
      politeness settings; the spider adds its own (`warcinfo_fields()`: towns, columns,
      discovery, full or incremental) when it opens.

    The crawl's own record: components hand records to write at the end
    (`add_closing_records`; the run report and its log, `crawler.report`). With any
    registered, the file stays open past `spider_closed` and they are written, as `resource`
    records, just before it closes at `engine_stopped`; a run that archived nothing writes
    no file for them.

    Completeness: each response body is judged as received (`pipelines.warc.completeness`): a
    cut capture gets `WARC-Truncated`, and any reason the body is not whole (cut download,
    Content-Length not met, gzip stream cut short or inflating past DOWNLOAD_MAXSIZE, a
    close-delimited page without `</html>`) goes to `request.meta["dgarchive_incomplete"]`,
    where the spider refuses to make a record of it.

    Stats: warc/records_written, warc/bytes_written, warc/revisits, warc/files (file names),
    warc/write_errors.

    A write error closes the spider (reason `warc_write_error`): a crawl that cannot archive
    must not go on fetching.
    """

    def __init__(
        self,
        directory: str = "archive",
        prefix: str = "DGARCHIVE",
        max_size: int = 1_000_000_000,
        crawl_id: str | None = None,
        *,
        robots_obey: bool = True,
        user_agent: str = "",
        site_root: str = "",
        stats: StatsCollector | None = None,
        close_spider: Callable[[str], Any] | None = None,
        clock: Callable[[], datetime] = utc_now,
        id_factory: Callable[[], str] = new_record_id,
        hostname: str | None = None,
        gzip: bool = True,
        max_body_size: int = 0,
        warcinfo_fields: Mapping[str, object] | None = None,
        software: str = SOFTWARE,
    ) -> None:
        self.directory = directory
        self.max_body_size = max_body_size
        self.crawl_id = crawl_id or str(uuid.uuid4())
        self.stats = stats
        self._close_spider = close_spider
        self.clock = clock
        self.failed = False
        self.revisits = 0
        # Set by a downloader middleware that takes the inflated body from request.meta
        # (crawler.middlewares.InflatedOnceCompressionMiddleware); without one it is not kept.
        self.keep_inflated = False
        self._closing: list[Callable[[], list[ClosingRecord]]] = []
        self._stats_revisits = -1  # the values _update_stats last set
        self._stats_files: list[str] | None = None
        self.writer = RollingWarcWriter(
            directory,
            prefix=prefix,
            max_size=max_size,
            warcinfo_fields=run_fields(
                self.crawl_id,
                robots_obey=robots_obey,
                user_agent=user_agent,
                site_root=site_root,
                extra=warcinfo_fields,
            ),
            clock=clock,
            id_factory=id_factory,
            hostname=hostname or socket.gethostname(),
            gzip=gzip,
            software=software,
        )
        self.builder = self.writer.builder

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCapture:
        s = crawler.settings
        if not s.getbool("WARC_ENABLED", True):
            raise NotConfigured("WARC capture disabled (WARC_ENABLED=False)")
        ext = cls(
            directory=s.get("WARC_DIR") or "archive",
            prefix=s.get("WARC_PREFIX") or "DGARCHIVE",
            max_size=s.getint("WARC_MAX_SIZE", 1_000_000_000),
            crawl_id=s.get("WARC_CRAWL_ID") or None,
            robots_obey=s.getbool("ROBOTSTXT_OBEY"),
            user_agent=s.get("USER_AGENT") or "",
            site_root=s.get("CRAWL_SITE_ROOT") or "",
            stats=crawler.stats,
            close_spider=lambda reason: _close_spider(crawler, reason),
            max_body_size=s.getint("DOWNLOAD_MAXSIZE", 0),
            warcinfo_fields=crawl_fields(s),
            software=software_versions(),
        )
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    # -- signal handlers ---------------------------------------------------------------

    def spider_opened(self, spider: Spider | None = None) -> None:
        # What the spider was asked to crawl, for the warcinfo of every file (none is open
        # yet: the first opens with the first response).
        own = getattr(spider, "warcinfo_fields", None)
        if callable(own):
            self.writer.warcinfo_fields.update(own())
        repaired = repair_open_files(self.directory) if os.path.isdir(self.directory) else []
        for path in repaired:
            logger.warning("Repaired a WARC file an earlier crawl left open: %s", path)
        if self.stats is not None:
            self.stats.set_value("warc/crawl_id", self.crawl_id)
            if repaired:
                self.stats.set_value("warc/repaired_files", [_name(p) for p in repaired])

    def response_downloaded(
        self, response: Response, request: Request, spider: Spider | None = None
    ) -> None:
        if self.failed:
            return  # the spider is closing; no half-archived crawl goes on silently
        try:
            location, profile = self._write(response, request)
        except Exception as exc:  # noqa: BLE001 - any failure to archive stops the crawl
            self._fail(response, exc)
            return
        request.meta[keys.LOCATION_META_KEY] = location
        if profile:
            request.meta[keys.REVISIT_PROFILE_META_KEY] = profile
            self.revisits += 1
        else:
            request.meta.pop(keys.REVISIT_PROFILE_META_KEY, None)
        self._update_stats()

    def add_closing_records(self, provider: Callable[[], list[ClosingRecord]]) -> None:
        """Have `provider()`'s records written as the last records of the run."""
        self._closing.append(provider)

    def spider_closed(self, spider: Spider | None = None, reason: str | None = None) -> None:
        if not self._closing:
            self.close()
        # else: the providers' records (the run report) are only final once every
        # spider_closed handler has run; engine_stopped writes them and closes.

    def engine_stopped(self) -> None:
        try:
            self.write_closing_records()
        finally:
            self.close()

    def write_closing_records(self) -> None:
        """Write each provider's records once, as `resource` records, into the current file.

        Not after a write error (the crawl stopped for it) nor when this run archived
        nothing; a failure here is logged, not raised: the exchanges are already safe."""
        providers, self._closing = self._closing, []
        if self.failed or not self.writer.files:
            return
        for provider in providers:
            try:
                records = [
                    self.builder.resource(uri, payload, ctype) for uri, ctype, payload in provider()
                ]
                if records:
                    self.writer.write_records(records)
            except Exception:
                logger.exception("Could not write the run's own records into the WARC file")
                if self.stats is not None:
                    self.stats.inc_value("warc/write_errors")
        self._update_stats()

    def close(self) -> None:
        """Close (and rename) the current file. Safe to call more than once."""
        try:
            self.writer.close()
        except OSError:
            logger.exception("Could not close the WARC file %s", self.writer.current_path)
            raise
        finally:
            self._update_stats()

    # -- building records --------------------------------------------------------------

    def _write(self, response: Response, request: Request) -> tuple[dict, str | None]:
        wire = request.meta.pop(keys.WIRE_META_KEY, None)
        request.meta.pop(keys.INCOMPLETE_META_KEY, None)  # a retry's copy of an earlier verdict
        request.meta.pop(keys.INFLATED_META_KEY, None)
        if not (
            isinstance(wire, dict)
            and wire.get("url") == response.url
            and wire.get("status") == response.status
        ):
            wire = None  # absent, or carried over from another download by a redirect/retry
        date = self._fetch_date(request)
        ip = str(response.ip_address) if response.ip_address else None
        protocol = (wire or {}).get("protocol") or response.protocol or "HTTP/1.1"
        if not protocol.startswith("HTTP/1"):
            protocol = "HTTP/1.1"  # HTTP/2 has no status line; WARC readers expect HTTP/1.x
        reason = (wire or {}).get("reason")
        if reason is None:
            reason = request.meta.get(keys.REASON_META_KEY)
        if reason is None:
            reason = default_reason(response.status)
        if wire is not None:
            headers = wire["headers"]
        else:
            headers = [(k, v) for k, vs in response.headers.items() for v in vs]

        req_record = self._request_record(request, response, wire, date, ip)

        revisit = revisit_of(request.meta)
        if revisit is not None and response.status == 304:
            rv, meta = self.builder.not_modified_records(
                response.url,
                refers_to=revisit,
                reason=reason,
                headers=headers,
                protocol=protocol,
                date=date,
                ip_address=ip,
            )
            return self.writer.write_revisit(req_record, rv, meta), "server-not-modified"
        if revisit is not None and response.status == 200 and revisit.payload_digest:
            if sha1_digest(response.body) == revisit.payload_digest:
                rv = self.builder.revisit(
                    response.url,
                    profile="identical-payload-digest",
                    refers_to=revisit,
                    status=response.status,
                    reason=reason,
                    headers=headers,
                    protocol=protocol,
                    date=date,
                    ip_address=ip,
                )
                return self.writer.write_revisit(req_record, rv), "identical-payload-digest"
        check = check_body(
            headers,
            response.body,
            response.flags,
            status=response.status,
            max_size=request.meta.get("download_maxsize", self.max_body_size),
            keep_inflated=self.keep_inflated,
        )
        if check.problem:
            request.meta[keys.INCOMPLETE_META_KEY] = check.problem
        elif check.inflated is not None:
            request.meta[keys.INFLATED_META_KEY] = (response.body, check.inflated)
        truncated = check.truncated
        resp_record = self.builder.response(
            response.url,
            status=response.status,
            reason=reason,
            headers=headers,
            body=response.body,
            protocol=protocol,
            date=date,
            ip_address=ip,
            truncated=truncated,
        )
        return self.writer.write_exchange(req_record, resp_record), None

    def _request_record(
        self,
        request: Request,
        response: Response,
        wire: dict | None,
        date: datetime,
        ip: str | None,
    ) -> ArcWarcRecord:
        # The head as sent when the download handler recorded it; else from request.headers.
        sent = (wire or {}).get("request_head")
        if sent:
            head, headers = HttpHead.parse(sent), []
        else:
            head, headers = None, [(k, v) for k, vs in request.headers.items() for v in vs]
        return self.builder.request(
            response.url,
            method=request.method,
            headers=headers,
            body=request.body or b"",
            head=head,
            date=date,
            ip_address=ip,
        )

    def _fetch_date(self, request: Request) -> datetime:
        # WARC-Date is when the capture began: now, less the time the download took.
        now = self.clock()
        latency = request.meta.get("download_latency")
        if isinstance(latency, int | float) and latency > 0:
            return now - timedelta(seconds=latency)
        return now

    # -- failures and stats -------------------------------------------------------------

    def _fail(self, response: Response, exc: Exception) -> None:
        self.failed = True
        logger.critical(
            "WARC capture failed for %s: %s. Closing the spider: a crawl that cannot "
            "archive what it fetches must not go on.",
            response.url,
            exc,
            exc_info=not isinstance(exc, WarcWriteError),  # its message says it all
        )
        if self.stats is not None:
            self.stats.inc_value("warc/write_errors")
        if self._close_spider is not None:
            self._close_spider("warc_write_error")

    def _update_stats(self) -> None:
        if self.stats is None:
            return
        w = self.writer
        self.stats.set_value("warc/records_written", w.records_written)
        self.stats.set_value("warc/bytes_written", w.bytes_written)
        # The other two change a few times a run: set when they did (each call on Scrapy's
        # stats collector costs several microseconds, per response).
        if self.revisits != self._stats_revisits:
            self.stats.set_value("warc/revisits", self.revisits)
            self._stats_revisits = self.revisits
        if w.files != self._stats_files:
            self.stats.set_value("warc/files", [_name(p) for p in w.files])
            self._stats_files = list(w.files)


def _close_spider(crawler: Crawler, reason: str) -> None:
    engine = crawler.engine
    if engine is None or engine.spider is None:
        logger.error("No running engine to close (reason %s)", reason)
        return
    d = deferred_from_coro(engine.close_spider_async(reason=reason))
    d.addErrback(lambda f: logger.error("Could not close the spider: %s", f.value))


def _name(path: str) -> str:
    return os.path.basename(path)
