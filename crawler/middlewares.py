"""Scrapy middlewares that keep the crawl in scope and polite, and report what they refuse.

- `ScopedRedirectMiddleware` / `ScopedMetaRefreshMiddleware`: Scrapy's own redirect and
  meta-refresh middlewares (the latter also reading a `Refresh` header), but a redirect is
  followed only to the site root's host AND port (http or https), under its path, to a URL
  the spider accepts for that request (`TownNewsSpider.redirect_refusal`), and never back to
  a URL of the same chain. Anything else raises `RedirectRefused` (an `IgnoreRequest`, so the
  request's errback reports it under the article's own URL); the 3xx or refreshing page is
  already in the WARC by then (`WarcCapture` archives every downloaded response).
- `RetryAfterMiddleware`: Scrapy's RetryMiddleware that waits as long as a 429 or 503 asks
  in `Retry-After` (seconds or an HTTP date) before retrying, up to `RETRY_AFTER_MAX`
  seconds; a longer wait is not retried but reported.
- `ReportedUrlLengthMiddleware`: Scrapy's UrlLengthMiddleware, but a link over
  `URLLENGTH_LIMIT` is a WARNING and a failure in the report, not an INFO line.
- `report_dropped_redirects`: a redirect the scheduler's duplicate filter drops (two articles
  redirected to one page) is reported as a failure of the article it came from.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from scrapy import Request, signals
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.urllength import UrlLengthMiddleware
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater
from w3lib.url import canonicalize_url

from crawler.config import normalize_url
from pipelines.capturemeta import INFLATED_META_KEY
from pipelines.failures import record_failure

if TYPE_CHECKING:
    from scrapy.http import Response

logger = logging.getLogger(__name__)


class RedirectRefused(IgnoreRequest):
    """A redirect or refresh the crawl will not follow; the message says why."""


def first_url(request: Request) -> str:
    """The URL a request chain started from: the article, not the last hop of its redirects."""
    chain = request.meta.get("redirect_urls") or []
    return chain[0] if chain else request.url


# -- redirects ---------------------------------------------------------------------------------


class _ScopedRedirectMixin:
    """Checks the request Scrapy's redirect middleware built before it is scheduled."""

    crawler: Any
    max_redirect_times: int

    def _scoped(self, request: Request, response: Response, redirected: Request) -> Request:
        spider = self.crawler.spider
        sitemap = getattr(spider, "sitemap", None)
        # A link to www.dg.gov.cn means the same page on the crawled root, as for list links.
        target = sitemap.to_fetch(redirected.url) if sitemap else normalize_url(redirected.url)
        chain = [*redirected.meta.get("redirect_urls", []), request.url]
        kind = redirected.meta.get("redirect_reasons", ["redirect"])[-1]
        what = f"{kind} from {request.url} to {target}"
        if normalize_url(target) in {normalize_url(u) for u in chain}:
            raise RedirectRefused(f"redirect loop: {what}")
        if sitemap is not None and not sitemap.in_scope(target):
            raise RedirectRefused(f"off-site {what} (only {sitemap.root} is crawled)")
        refusal = getattr(spider, "redirect_refusal", None)
        reason = refusal(redirected, target) if refusal else None
        if reason:
            raise RedirectRefused(f"{what} refused: {reason}")
        return redirected if target == redirected.url else redirected.replace(url=target)

    def _too_many(self, request: Request) -> RedirectRefused:
        return RedirectRefused(
            f"more than {self.max_redirect_times} redirects (REDIRECT_MAX_TIMES); "
            f"last at {request.url}"
        )


class ScopedRedirectMiddleware(_ScopedRedirectMixin, RedirectMiddleware):
    """RedirectMiddleware (3xx + Location) restricted to the crawl's scope."""

    def process_response(self, request: Request, response: Response) -> Request | Response:
        try:
            result = super().process_response(request, response)
        except RedirectRefused:
            raise
        except IgnoreRequest:  # the only one Scrapy raises here: REDIRECT_MAX_TIMES
            raise self._too_many(request) from None
        if isinstance(result, Request):
            return self._scoped(request, response, result)
        if result is response and _unfollowed_redirect(request, response):
            # A 3xx Scrapy would not follow (no Location, a non-http scheme): not the page.
            location = response.headers.get("Location", b"").decode("latin-1")
            raise RedirectRefused(f"HTTP {response.status} to {location or 'nowhere'!r}")
        return result


def _unfollowed_redirect(request: Request, response: Response) -> bool:
    """A 3xx the request did not ask to see (304 aside) that Scrapy left unfollowed."""
    return (
        300 <= response.status < 400
        and response.status != 304
        and not request.meta.get("dont_redirect", False)
        and not request.meta.get("handle_httpstatus_all", False)
        and response.status not in request.meta.get("handle_httpstatus_list", ())
    )


REFRESH_HEADER = re.compile(
    r"""^\s*(\d+(?:\.\d*)?)?\s*(?:[;,]\s*(?:url\s*=\s*)?(['"]?)(.*?)\2\s*)?$""", re.I
)


def parse_refresh_header(value: str) -> tuple[float, str | None]:
    """`Refresh: 5; url=/x` -> (5.0, "/x"); (0.0, None) when unreadable or without a URL."""
    m = REFRESH_HEADER.match(value)
    if not m:
        return 0.0, None
    return float(m.group(1) or 0), (m.group(3) or "").strip() or None


class ScopedMetaRefreshMiddleware(_ScopedRedirectMixin, MetaRefreshMiddleware):
    """MetaRefreshMiddleware (`<meta http-equiv=refresh>`, and the `Refresh` header, which
    Scrapy does not read) restricted to the crawl's scope."""

    def process_response(self, request: Request, response: Response) -> Request | Response:
        try:
            result = super().process_response(request, response)
            if result is response:
                result = self._refresh_header(request, response)
        except RedirectRefused:
            raise
        except IgnoreRequest:
            raise self._too_many(request) from None
        if isinstance(result, Request):
            return self._scoped(request, response, result)
        return result

    def _refresh_header(self, request: Request, response: Response) -> Request | Response:
        raw = response.headers.get("Refresh")
        if not raw or request.meta.get("dont_redirect") or request.method == "HEAD":
            return response
        delay, url = parse_refresh_header(raw.decode("latin-1"))
        if url is None or delay >= self._maxdelay:
            return response
        # The same helpers MetaRefreshMiddleware uses for the tag (keep in step with Scrapy).
        redirected = self._redirect_request_using_get(request, response, urljoin(response.url, url))
        return self._redirect(redirected, request, "refresh header")


def report_dropped_redirects(crawler: Any) -> None:
    """Report a redirect loop the duplicate filter drops: otherwise the article vanishes unseen.

    Only a loop loses the article (A→A, A→B→A: the target is in the request's own chain). A
    redirect to a page this crawl fetches anyway (an article that is also linked directly)
    is not a loss, and must not be one: which of the two requests the scheduler meets first
    depends on the order of concurrent responses, so counting it would make the exit code
    depend on timing.
    """

    def request_dropped(request: Request, spider: Any = None) -> None:
        chain = request.meta.get("redirect_urls")
        if not chain:
            return
        article = first_url(request)
        target = canonicalize_url(request.url)
        if target not in {canonicalize_url(u) for u in chain}:
            logger.info("%s redirects to %s, which this crawl fetches anyway", article, request.url)
            return
        reason = f"redirect loop: back to {request.url} (after {len(chain)} hop(s))"
        logger.warning("failed %s: %s", article, reason)
        record_failure(crawler.stats, article, reason)

    crawler.signals.connect(request_dropped, signal=signals.request_dropped, weak=False)


# -- Retry-After -------------------------------------------------------------------------------


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` value asks for (delta-seconds or HTTP-date); None if unreadable."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    """RetryMiddleware that honours `Retry-After` on 429 and 503.

    Settings: `RETRY_AFTER_MAX` (seconds, default 300): a longer wait is not retried; the
    response goes on as a failure (`HTTP 429: Retry-After 3600 s is over RETRY_AFTER_MAX`).
    The wait also holds back the host's download slot, so the other requests to the server
    that asked for a pause wait too.
    """

    STATUSES = (429, 503)

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.max_after = settings.getfloat("RETRY_AFTER_MAX", 300)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        wait = None
        if response.status in self.STATUSES and not request.meta.get("dont_retry", False):
            wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait is not None and wait > self.max_after:
            reason = (
                f"HTTP {response.status}: Retry-After {wait:.0f} s is over RETRY_AFTER_MAX "
                f"({self.max_after:.0f} s); not retried"
            )
            logger.warning("failed %s: %s", first_url(request), reason)
            record_failure(self.crawler.stats, first_url(request), reason)
            self.crawler.stats.inc_value("retry/retry_after_refused")
            return response
        result = super().process_response(request, response)
        if wait and isinstance(result, Request):
            self.crawler.stats.inc_value("retry/retry_after_waits")
            logger.info("%s asked to retry after %.0f s; waiting", request.url, wait)
            self._hold_slot(request, wait)
            if not await self._sleep(wait):
                return response  # the crawl is stopping: no retry, the response is the result
        return result

    def _hold_slot(self, request: Request, wait: float) -> None:
        """Delay the host's next download by `wait` (the Retry-After is for the server)."""
        downloader = getattr(self.crawler.engine, "downloader", None)
        try:
            slot = downloader.slots.get(downloader.get_slot_key(request))
        except AttributeError:
            return
        if slot is not None:
            # The slot starts the next download `delay` seconds after `lastseen`.
            slot.lastseen = max(slot.lastseen, time.time() + wait - slot.download_delay())

    async def _sleep(self, wait: float) -> bool:
        """Sleep `wait` seconds in short steps; False as soon as the engine stops running."""
        from twisted.internet import reactor  # here: importing it installs the default reactor

        end = time.monotonic() + wait
        while (left := end - time.monotonic()) > 0:
            if not getattr(self.crawler.engine, "running", True):
                return False
            await maybe_deferred_to_future(deferLater(reactor, min(left, 0.5), lambda: None))
        return True


# -- decompression -----------------------------------------------------------------------------


class InflatedOnceCompressionMiddleware(HttpCompressionMiddleware):
    """HttpCompressionMiddleware that takes a gzip body's inflated bytes from the WARC capture.

    `WarcCapture` inflates every gzip body as received to judge whether it is whole
    (`pipelines.warc.completeness`); for a body that is exactly one whole gzip member it keeps
    the result in `request.meta["dgarchive_inflated"]` with the body it came from, and this
    middleware uses it instead of inflating the same bytes again. It is used only for that
    very body object and a `Content-Encoding` that Scrapy would decode as gzip and nothing
    else; everything else (size limits, warnings, stats, the response class) is Scrapy's.
    """

    @classmethod
    def from_crawler(cls, crawler: Any) -> InflatedOnceCompressionMiddleware:
        mw = super().from_crawler(crawler)
        mw._kept: tuple[bytes, bytes] | None = None
        for ext in getattr(getattr(crawler, "extensions", None), "middlewares", ()):
            if hasattr(ext, "keep_inflated"):
                ext.keep_inflated = True  # WarcCapture: keep them, they are taken here
        return mw

    def process_response(self, request: Request, response: Response) -> Request | Response:
        self._kept = request.meta.pop(INFLATED_META_KEY, None)
        try:
            return super().process_response(request, response)
        finally:
            self._kept = None

    def _handle_encoding(
        self, body: bytes, content_encoding: list[bytes], max_size: int
    ) -> tuple[bytes, list[bytes]]:
        kept = self._kept
        if kept is not None and kept[0] is body:
            to_decode, to_keep = self._split_encodings(content_encoding)
            if not to_keep and len(to_decode) == 1 and to_decode[0] in (b"gzip", b"x-gzip"):
                return kept[1], []
        return super()._handle_encoding(body, content_encoding, max_size)


# -- long links --------------------------------------------------------------------------------


class ReportedUrlLengthMiddleware(UrlLengthMiddleware):
    """UrlLengthMiddleware whose dropped links are WARNINGs and failures in the report."""

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        if len(request.url) <= self.maxlength:
            return request
        shown = request.url[:120] + "…"
        reason = f"link of {len(request.url)} characters (over URLLENGTH_LIMIT {self.maxlength})"
        where = f" on {response.url}" if response is not None else ""
        logger.warning("not followed%s: %s: %s", where, reason, shown)
        self.crawler.stats.inc_value("urllength/request_ignored_count")
        record_failure(self.crawler.stats, shown, reason + where)
        return None
