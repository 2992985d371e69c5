"""TownNewsSpider: decides what to fetch in a town's news columns; page objects parse."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError

from crawler import __version__
from crawler.config import Column, SiteMap, load_towns, select_columns, town_by_slug
from crawler.middlewares import RedirectRefused, first_url, report_dropped_redirects
from crawler.report import OPTIONAL_META_KEY
from crawler.spiders.columncheck import COLUMN_ROOT, column_problem
from crawler.spiders.frontier import ARTICLE_PRIORITY
from crawler.spiders.pagebar import init_page_bar, page_requests
from crawler.spiders.requisites import RequisiteMixin, article_alone, header_text
from crawler.spiders.revisits import RevisitMixin, load_known
from pipelines.failures import record_failure
from pipelines.pages import (
    NotAnArticle,
    UnreadablePage,
    article_and_requisites,
    is_article_url,
    parse_listing,
)
from pipelines.pages.encoding import http_charset
from pipelines.warc.inventory import held_uris

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

    from pipelines.records import ArticleRecord

log = logging.getLogger(__name__)


def _split(value: str | list[str] | None) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [v.strip() for v in value if v and v.strip()]


class TownNewsSpider(RevisitMixin, RequisiteMixin, scrapy.Spider):
    """Crawls the configured news columns: list pages, page bar, articles, page requisites.

    Arguments (`-a` with `scrapy crawl`, flags with `dgarchive crawl`): `town` and `column`
    (comma-separated; none means every configured column), `site_root`, `full` (walk every
    list page even when incremental), `known` (preloaded {canonical URL: last capture}).

    Settings read: CRAWL_SITE_ROOT, CRAWL_PAGE_REQUISITES, CRAWL_INCREMENTAL, CRAWL_DISCOVERY,
    CRAWL_REVISIT_OLDER_THAN, CRAWL_MAX_LINKS_PER_PAGE, DB_ENABLED, DB_URL, CONTACT_URL,
    WARC_ENABLED, WARC_DIR.

    Page requisites: `crawler.spiders.requisites`; revisits of stored articles and the
    incremental crawl's known articles: `crawler.spiders.revisits`.
    """

    name = "town_news"
    archive_required = True  # records only for archived responses (WARC_ENABLED)

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        # An identifying User-Agent built from the operator's contact URL, unless set outright.
        contact = settings.get("CONTACT_URL")
        contact_priority = settings.getpriority("CONTACT_URL")
        ua_unset = settings.get("USER_AGENT") == user_agent(None)  # still the default
        if contact and (ua_unset or settings.getpriority("USER_AGENT") < contact_priority):
            settings.set("USER_AGENT", user_agent(contact), priority=contact_priority)

    def __init__(
        self,
        town: str | list[str] | None = None,
        column: str | list[str] | None = None,
        site_root: str | None = None,
        full: bool | str = False,
        known: dict[str, dict] | set[str] | None = None,
        towns_file: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.town_slugs = _split(town)
        self.column_paths = _split(column)
        self._site_root = site_root
        self.full = full in (True, "1", "true", "True", "yes")
        self._known = known
        towns = load_towns(path=towns_file or None)  # `dgarchive crawl --towns FILE`
        self.selected: list[Column] = select_columns(towns, self.town_slugs, self.column_paths)
        self._towns = towns
        self.towns = sorted({c.town for c in self.selected})
        self.columns = [c.path for c in self.selected]

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        s = crawler.settings
        # An empty site_root is an error (SiteMap raises), not "the live site".
        root = spider._site_root if spider._site_root is not None else s.get("CRAWL_SITE_ROOT")
        spider.sitemap = SiteMap(root)
        spider.allowed_domains = sorted(
            {urlsplit(spider.sitemap.root).hostname or "", "www.dg.gov.cn"}
        )
        spider.site_root = spider.sitemap.root  # the run report names it
        spider.requisites = s.getbool("CRAWL_PAGE_REQUISITES", True)
        spider.archive_required = s.getbool("WARC_ENABLED", True)
        spider.incremental = s.getbool("CRAWL_INCREMENTAL", True) and not spider.full
        spider.discovery = s.get("CRAWL_DISCOVERY", "pages")
        spider.revisit_days = s.getfloat("CRAWL_REVISIT_OLDER_THAN", -1)
        spider.max_links = s.getint("CRAWL_MAX_LINKS_PER_PAGE", 1000)
        report_dropped_redirects(crawler)
        if spider._known is None and spider.incremental and s.getbool("DB_ENABLED", True):
            # Without revisits only membership is asked: the URLs, not their captures.
            spider._known = load_known(s.get("DB_URL"), captures=spider.revisit_days >= 0)
        spider.known = spider._known or {}
        init_page_bar(spider)  # list pages asked for, bar links judged (`pagebar`)
        spider.held = set()  # fetch URLs of responses the archive holds from earlier runs
        if spider.requisites and spider.incremental and spider.archive_required:
            spider.held = held_uris(s.get("WARC_DIR") or "archive")
        if spider.sitemap.is_canonical and not s.get("CONTACT_URL"):
            log.warning(
                "crawling the live site without a contact in the User-Agent: "
                "set -s CONTACT_URL=mailto:you@example.org (or a web page about your archive)"
            )
        return spider

    def warcinfo_fields(self) -> dict[str, object]:
        """What this crawl was asked to capture, for every WARC file's warcinfo."""
        towns = []
        for slug in self.towns:
            town = town_by_slug(self._towns, slug)
            columns = ", ".join(f"{c.name} ({c.path})" for c in self.selected if c.town == slug)
            towns.append(f"{town.name if town else slug} ({slug}): {columns}")
        if self.revisit_days >= 0:
            revisit = f"stored articles fetched over {self.revisit_days:g} days ago"
        else:
            revisit = "never"
        return {
            "description": "dgarchive crawl of the news columns of www.dg.gov.cn towns: "
            + "; ".join(towns),
            "dgarchive-towns": ",".join(self.towns),
            "dgarchive-columns": ",".join(self.columns),
            "dgarchive-mode": "full" if not self.incremental else "incremental",
            "dgarchive-discovery": self.discovery,
            "dgarchive-revisit-older-than": revisit,
            "dgarchive-page-requisites": "on" if self.requisites else "off",
        }

    # -- discovery ---------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for column in self.selected:
            if self.discovery == "feed" and column.feed:
                url = f"{self.sitemap.root}postmeta/i/{column.feed}.json"
                yield self._request(url, self.parse_feed, column)
            else:
                url = self.sitemap.column_url(column)
                yield self._request(url, self.parse_listing, column, **{COLUMN_ROOT: True})
        async for request in self._paced_revisits():
            yield request

    def _request(
        self, url: str, callback: Callable[..., Any], column: Column, priority: int = 0, **meta: Any
    ) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=callback,
            priority=priority,
            errback=self.on_error,
            cb_kwargs={"column": column},
            meta={"dgarchive_column": column.path, **meta},
        )

    def _in_column(self, url: str, column: Column) -> bool:
        return self._fetch_in_column(self.sitemap.to_fetch(url), column)

    def _fetch_in_column(self, fetch: str, column: Column) -> bool:
        return fetch.startswith(self.sitemap.root + column.path)

    def parse_listing(self, response: Response, column: Column) -> Iterator[scrapy.Request]:
        if "dataloss" in response.flags:
            self._fail(response.url, "connection closed before the whole body arrived")
        if not isinstance(response, TextResponse):
            return
        listing = parse_listing(
            response.body,
            response.url,
            encoding=response.encoding,
            max_links=self.max_links if self.max_links > 0 else None,
            memo=self.bar_memo,
        )
        if response.meta.get(COLUMN_ROOT) and not (listing.article_urls or listing.page_urls):
            self._fail(response.url, column_problem(column, "is no longer a list page"))
            return
        new = 0
        article_urls = self._capped(
            response.url, "article links", listing.article_urls, listing.link_count
        )
        for link in article_urls:
            request = self._article_request(link, column)
            if request is not None:
                new += 1
                yield request
        self.crawler.stats.inc_value("crawl/list_pages")

        walk_all = not self.incremental or not self._known_in(column)
        if walk_all:
            pages = listing.page_urls
        elif new and listing.next_url:
            # Incremental: walk one page at a time and stop at the first all-known page.
            pages = [listing.next_url]
        else:
            pages = []
        pages = self._capped(response.url, "list page links", pages)
        yield from page_requests(self, response.url, column, pages)
        if self.requisites:
            requisites = self._capped(response.url, "page requisites", listing.requisite_urls)
            yield from self._requisites(requisites, column.path)

    def _capped(
        self, page_url: str, what: str, links: list[str], total: int | None = None
    ) -> list[str]:
        """At most CRAWL_MAX_LINKS_PER_PAGE links from one page; a cut is a reported failure.

        A list page with 100,000 links would otherwise queue 100,000 requests at once (and
        stall the event loop building them); the real site lists 15 to 20 per page."""
        if self.max_links <= 0 or len(links) <= self.max_links:
            return links
        total = max(total or 0, len(links))
        self.crawler.stats.inc_value("crawl/links_cut", total - self.max_links)
        self._fail(
            page_url,
            f"{total} {what} on one page; followed the first {self.max_links} "
            f"(CRAWL_MAX_LINKS_PER_PAGE), the rest are not archived",
        )
        return links[: self.max_links]

    def redirect_refusal(self, request: scrapy.Request, target: str) -> str | None:
        """Why a redirect of `request` to `target` (a normalized fetch URL on the site root)
        must not be followed, or None. Called by crawler.middlewares for every redirect and
        refresh: an article may only move to another article of its column (a redirect to
        the site's error page is not the article), a list page only within its column."""
        column = request.cb_kwargs.get("column")
        if not isinstance(column, Column):
            return None  # robots.txt, page requisites: anywhere on the site root
        if request.callback == self.parse_article:
            if not (is_article_url(target) and self._in_column(target, column)):
                return f"not an article of column {column.path}"
        elif request.callback == self.parse_listing and not self._in_column(target, column):
            return f"outside column {column.path}"
        return None

    def parse_feed(self, response: Response, column: Column) -> Iterator[scrapy.Request]:
        try:
            feed = json.loads(response.body)
            articles = feed.get("articles", [])
        except (ValueError, AttributeError) as exc:
            self._fail(response.url, f"unreadable column feed: {exc}")
            return
        for entry in articles:
            url = entry.get("url") if isinstance(entry, dict) else None
            if url and is_article_url(url):
                request = self._article_request(url, column)
                if request is not None:
                    yield request

    def _article_request(self, link: str, column: Column) -> scrapy.Request | None:
        """The request for an article link in this column, or None when it is out of the
        column or (incremental) already stored."""
        fetch = self.sitemap.to_fetch(link)
        if not fetch.startswith(self.sitemap.root + column.path):
            return None
        if self.incremental and self.sitemap.to_canonical(fetch) in self.known:
            self.crawler.stats.inc_value("crawl/known_skipped")
            return None
        return self._request(fetch, self.parse_article, column, ARTICLE_PRIORITY)

    # -- parsing -----------------------------------------------------------------------

    def parse_article(
        self, response: Response, column: Column
    ) -> Iterator[scrapy.Request | ArticleRecord | dict[str, Any]]:
        """A record only from a whole body of a plausible article; anything else is reported.

        The capture judged the body as received (`pipelines.warc.completeness`: cut download,
        length not met, gzip stream cut short) and the size limit may have stopped it
        (`crawler.limits`); the page object refuses error and maintenance templates,
        framesets, plain text and pages without a body or title (`NotAnArticle`). A refused
        article is archived, reported under its URL, and not stored: the next incremental
        run fetches it again.
        """
        canonical = self.sitemap.to_canonical(response.url)
        problem = (
            response.meta.get("dgarchive_cut")
            or response.meta.get("dgarchive_incomplete")
            or ("dataloss" in response.flags and "connection closed before the whole body arrived")
            or ("download_stopped" in response.flags and "download stopped before the end")
        )
        if problem and response.status != 304:
            self._fail(response.url, f"incomplete capture: {problem}")
            return
        capture = dict(response.meta.get("warc") or {})
        if not capture and self.archive_required:
            # The capture failed (e.g. a full disk): a record must never outlive its bytes.
            self._fail(response.url, "not archived: the WARC capture failed")
            return
        if capture:
            capture["etag"] = header_text(response, b"ETag")
            capture["last_modified"] = header_text(response, b"Last-Modified")
        if response.meta.get("warc_revisit"):
            self.crawler.stats.inc_value("crawl/revisits_unchanged")
            yield {"revisit": True, "url": canonical, "capture": capture, "town": column.town}
            return
        if response.status == 304:  # not modified but no revisit record: nothing to store
            return
        # The header's charset label as sent: the page object maps it (and reports an
        # unknown one) exactly as `extract` and `reindex` do on the same bytes.
        encoding = http_charset(header_text(response, b"Content-Type"))
        town = town_by_slug(self._towns, column.town)
        try:
            # With its requisites, read from the page object's tree (`article_and_requisites`).
            record, urls = (article_and_requisites if self.requisites else article_alone)(
                response.body,
                canonical,
                encoding=encoding,
                fetch_url=response.url,
                text_encoding=getattr(response, "encoding", None),
                town=column.town,
                column_path=column.path,
                column_name=column.name,
                site=town.site if town is not None else None,
            )
        except UnreadablePage as exc:  # empty or binary body: archived, reported, no record
            self._fail(response.url, f"unreadable page: {exc}")
            return
        except NotAnArticle as exc:  # error template, frameset, no body or title, ...
            self._fail(response.url, str(exc))
            return
        record["capture"] = capture
        if self.requisites:
            # The page's chrome, share widget and content images (most already asked for).
            urls += [i["src"] for i in record.get("images", []) if i.get("src")]
            urls = self._capped(response.url, "page requisites", list(dict.fromkeys(urls)))
            yield from self._requisites(urls, column.path)
        yield record

    # -- failures ----------------------------------------------------------------------

    def on_error(self, failure: Failure) -> Iterator[dict[str, Any]]:
        request = failure.request
        if failure.check(HttpError) and request.meta.get(OPTIONAL_META_KEY):
            return  # archived; RunReport does not count it either
        if type(failure.value) is IgnoreRequest and "robots.txt" in failure.getErrorMessage():
            # Refused by robots.txt (a page requisite under a Disallow): policy, not a failure.
            log.info("not fetched %s: %s", request.url, failure.getErrorMessage())
            return
        status = None
        if failure.check(HttpError):
            response = failure.value.response
            reason = f"HTTP {response.status}"
            status = "gone" if response.status in (404, 410) else None
        else:
            reason = f"{failure.type.__name__}: {failure.getErrorMessage()}"
            status = "moved" if failure.check(RedirectRefused) else None
        if request.meta.get("redirect_urls") and request.url not in reason:
            reason += f" (redirected to {request.url})"
        if request.meta.get(COLUMN_ROOT):  # the column itself: one configuration problem
            reason = column_problem(request.cb_kwargs["column"], reason)
            log.warning("failed %s: %s", first_url(request), reason)
            record_failure(self.crawler.stats, first_url(request), reason, replace=True)
        else:
            # Under the URL the crawl asked for (the article), not its redirects' last hop.
            self._fail(first_url(request), reason)
        if status and request.meta.get("dgarchive_revisit"):
            # A stored article withdrawn or moved away: the store marks it (status, gone_at)
            # and keeps the archived 404/3xx as a capture.
            self.crawler.stats.inc_value(f"crawl/revisits_{status}")
            yield {
                "revisit": True,
                "article_status": status,
                "url": self.sitemap.to_canonical(first_url(request)),
                "capture": dict(request.meta.get("warc") or {}),
            }

    def _fail(self, url: str, reason: str) -> None:
        log.warning("failed %s: %s", url, reason)
        record_failure(self.crawler.stats, url, reason)


def user_agent(contact: str | None) -> str:
    """`dgarchive/<version> (+archival crawler; contact: <url>)`."""
    base = f"dgarchive/{__version__} (+archival crawler"
    return f"{base}; contact: {contact})" if contact else f"{base})"
