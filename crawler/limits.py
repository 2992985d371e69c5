"""SizeLimit: stop a download at DOWNLOAD_MAXSIZE and keep what came, rather than lose it all.

Scrapy's own DOWNLOAD_MAXSIZE check cancels the download: the request fails with a
`DownloadCancelledError` that carries no message, nothing reaches the archive, and the run
report says nothing about why. This extension enforces the same setting one step earlier,
through Scrapy's `headers_received` / `bytes_received` signals and `StopDownload(fail=False)`:

- a promised Content-Length over the limit stops the download at the headers;
- a body (endless, or without Content-Length) stops once it passes the limit.

Either way the response goes on with the bytes received and Scrapy's `download_stopped` flag,
so the WARC capture archives it (`WARC-Truncated: length`), and the failure is reported
under the request's own URL with the limit named. Memory stays bounded by the limit.

Decompressed size is Scrapy's HttpCompressionMiddleware's job: with DOWNLOAD_MAXSIZE set it
stops inflating past the limit and ignores the response with a message naming the limit.

Per-request override: `request.meta["download_maxsize"]` (Scrapy's own key); 0 disables.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured, StopDownload

from pipelines.failures import record_failure

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

RECEIVED_META_KEY = "dgarchive_bytes_received"
CUT_META_KEY = "dgarchive_cut"  # the reason, once a download was stopped here


class SizeLimit:
    def __init__(self, max_size: int, stats: Any) -> None:
        self.max_size = max_size
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SizeLimit:
        max_size = crawler.settings.getint("DOWNLOAD_MAXSIZE", 0)
        if max_size <= 0:
            raise NotConfigured("no DOWNLOAD_MAXSIZE")
        ext = cls(max_size, crawler.stats)
        crawler.signals.connect(ext.headers_received, signal=signals.headers_received)
        crawler.signals.connect(ext.bytes_received, signal=signals.bytes_received)
        return ext

    def _limit(self, request: Request) -> int:
        value = request.meta.get("download_maxsize", self.max_size)
        return int(value or 0)

    def headers_received(
        self, headers: Any, body_length: Any, request: Request, spider: Any = None
    ) -> None:
        request.meta[RECEIVED_META_KEY] = 0
        request.meta.pop(CUT_META_KEY, None)
        limit = self._limit(request)
        if limit and isinstance(body_length, int) and body_length > limit:
            self._stop(
                request,
                f"response too large: Content-Length {body_length} bytes is over the "
                f"DOWNLOAD_MAXSIZE limit ({limit} bytes); not downloaded",
            )

    def bytes_received(self, data: bytes, request: Request, spider: Any = None) -> None:
        received = request.meta.get(RECEIVED_META_KEY, 0) + len(data)
        request.meta[RECEIVED_META_KEY] = received
        limit = self._limit(request)
        if limit and received > limit:
            self._stop(
                request,
                f"response too large: body passed the DOWNLOAD_MAXSIZE limit ({limit} bytes); "
                f"cut after {received} bytes",
            )

    def _stop(self, request: Request, reason: str) -> None:
        request.meta[CUT_META_KEY] = reason
        logger.warning("failed %s: %s", request.url, reason)
        if self.stats is not None:
            self.stats.inc_value("limits/size_stopped")
            record_failure(self.stats, request.url, reason)
        raise StopDownload(fail=False)
