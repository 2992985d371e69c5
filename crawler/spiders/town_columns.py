"""TownColumnsSpider: finds the towns' news columns on the site itself (`dgarchive towns
discover`) and checks the configured ones (`dgarchive towns check`).

A crawl like any other: robots.txt, delays and the contact User-Agent apply, and every
response goes into the WARC files (WarcCapture). The page objects in
`pipelines.pages.columns` decide what a page is; this module only decides what to fetch.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.http import Response, TextResponse

from crawler.config import Column, SiteMap, load_towns, normalize_column_path, select_columns
from crawler.spiders.town_news import user_agent
from crawler.townsfile import FoundColumn, TownResult, candidate_folders, read_text
from pipelines.pages.columns import classify_page, parse_feed

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

log = logging.getLogger(__name__)
PAGE_SUFFIXES = ("/", ".html", ".htm", ".shtml")


@dataclass
class CheckRow:
    """`towns check`: one configured column's state."""

    town: str
    path: str
    name: str
    status: str  # ok | moved | gone | not a list page | error
    detail: str = ""  # the new URL, the HTTP status, the error


class TownColumnsSpider(scrapy.Spider):
    """`mode="discover"`: from each town's home page (the configured folder candidates in
    turn) follow links inside the town's folder `depth` levels deep, plus the configured
    columns and feeds, and record every column list page (`results`). `mode="check"`: one
    request per configured column, no redirect followed (`checks`)."""

    name = "town_columns"

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        contact = settings.get("CONTACT_URL")
        if contact and settings.get("USER_AGENT") == user_agent(None):
            settings.set(
                "USER_AGENT", user_agent(contact), priority=settings.getpriority("CONTACT_URL")
            )

    def __init__(
        self,
        town: list[str] | None = None,
        site_root: str | None = None,
        towns_file: str | None = None,
        mode: str = "discover",
        depth: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        towns = load_towns(path=towns_file)
        slugs = list(town or [])
        select_columns(towns, slugs, [])  # ConfigError for an unknown slug
        self.selected = [t for t in towns if not slugs or t.slug in slugs]
        self.folders = candidate_folders(read_text(towns_file))
        self.mode = mode
        self.depth = int(depth)
        self._site_root = site_root
        self.towns = [t.slug for t in self.selected]
        self.columns = [c.path for t in self.selected for c in t.columns]
        self.results: dict[str, TownResult] = {t.slug: TownResult(t.slug) for t in self.selected}
        self.checks: list[CheckRow] = []
        self._feed_of: dict[str, int] = {}  # column path -> feed id, from feeds
        self._fetched_folders: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        root = (
            spider._site_root
            if spider._site_root is not None
            else crawler.settings.get("CRAWL_SITE_ROOT")
        )
        spider.sitemap = SiteMap(root)
        spider.site_root = spider.sitemap.root
        spider.allowed_domains = sorted(
            {urlsplit(spider.sitemap.root).hostname or "", "www.dg.gov.cn"}
        )
        return spider

    # -- requests ----------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for town in self.selected:
            if self.mode == "check":
                for column in town.columns:
                    yield scrapy.Request(
                        self.sitemap.column_url(column),
                        callback=self.parse_check,
                        errback=self.check_failed,
                        cb_kwargs={"column": column},
                        meta={
                            "handle_httpstatus_all": True
                        },  # a redirect is reported, not followed
                        dont_filter=True,
                    )
                continue
            yield self._home(town.slug, 0)
            for column in town.columns:
                yield scrapy.Request(
                    self.sitemap.column_url(column),
                    callback=self.parse_page,
                    errback=self.page_failed,
                    cb_kwargs={"town": town.slug, "depth": self.depth, "configured": True},
                    meta={"handle_httpstatus_all": True},
                )
                if column.feed:
                    yield self._feed(town.slug, column.feed)

    def _home(self, town: str, attempt: int) -> scrapy.Request:
        folder = self.folders.get(town, [town])[attempt]
        return scrapy.Request(
            f"{self.sitemap.root}{folder}/",
            callback=self.parse_home,
            errback=self.home_failed,
            cb_kwargs={"town": town, "attempt": attempt},
            meta={"handle_httpstatus_list": [403, 404, 410]},
            dont_filter=True,
        )

    def _feed(self, town: str, feed_id: int) -> scrapy.Request:
        return scrapy.Request(
            f"{self.sitemap.root}postmeta/i/{feed_id}.json",
            callback=self.parse_feed,
            errback=self.page_failed,
            cb_kwargs={"town": town, "feed_id": feed_id},
        )

    def _page(self, url: str, town: str, depth: int) -> scrapy.Request:
        return scrapy.Request(
            url, callback=self.parse_page, errback=self.page_failed,
            cb_kwargs={"town": town, "depth": depth},
        )  # fmt: skip

    def _relative(self, url: str) -> str:
        """A fetch URL as a column path under the site root (`daojiao/xwzx/zhxw/`)."""
        canonical = self.sitemap.to_canonical(self.sitemap.to_fetch(url))
        return normalize_column_path(urlsplit(canonical).path)

    def _in_town(self, url: str, town: str) -> bool:
        folder = self.results[town].folder or town
        fetch = self.sitemap.to_fetch(url)
        path = urlsplit(fetch).path
        return fetch.startswith(f"{self.sitemap.root}{folder}/") and (path.endswith(PAGE_SUFFIXES))

    # -- discovery ---------------------------------------------------------------------

    def parse_home(self, response: Response, town: str, attempt: int) -> Iterator[scrapy.Request]:
        if response.status != 200 or not isinstance(response, TextResponse):
            yield from self._next_home(town, attempt)
            return
        folder = self._relative(response.url).strip("/").split("/")[0]
        self.results[town].folder = folder
        yield from self.parse_page(response, town, 0)

    def home_failed(self, failure: Failure) -> Iterator[scrapy.Request]:
        kwargs = failure.request.cb_kwargs
        log.info("home page %s: %s", failure.request.url, failure.getErrorMessage())
        yield from self._next_home(kwargs["town"], kwargs["attempt"])

    def _next_home(self, town: str, attempt: int) -> Iterator[scrapy.Request]:
        if attempt + 1 < len(self.folders.get(town, [town])):
            yield self._home(town, attempt + 1)

    def parse_page(
        self, response: Response, town: str, depth: int, configured: bool = False
    ) -> Iterator[scrapy.Request]:
        result = self.results[town]
        path = self._relative(response.url)
        if configured and response.status != 200:
            if 300 <= response.status < 400:
                target = urljoin(
                    response.url, response.headers.get("Location", b"").decode("latin-1")
                )
                result.wrong[path] = f"moved to {self.sitemap.to_canonical(target)}"
                yield self._page(target, town, self.depth)
            elif response.status in (404, 410):
                result.wrong[path] = f"gone ({response.status})"
            return
        if not isinstance(response, TextResponse) or response.status != 200:
            return
        page = classify_page(response.body, response.url, encoding=response.encoding)
        if page.is_news:
            result.columns[path] = FoundColumn(
                path, page.name, page.feed or self._feed_of.get(path), page.pages, page.newest
            )
        elif page.is_list:
            result.not_news[path] = page.name
        elif configured:
            result.wrong[path] = "not a list page"
        if page.feed:
            yield self._feed(town, page.feed)
        if depth < self.depth:
            for link in page.links:
                if self._in_town(link, town):
                    yield self._page(self.sitemap.to_fetch(link), town, depth + 1)

    def parse_feed(self, response: Response, town: str, feed_id: int) -> Iterator[scrapy.Request]:
        try:
            feed = parse_feed(response.body, self.sitemap.to_canonical(response.url))
        except ValueError as exc:
            log.warning("unreadable column feed %s: %s", response.url, exc)
            return
        if feed.column_path:
            path = normalize_column_path(feed.column_path)
            self._feed_of[path] = feed_id
            found = self.results[town].columns.get(path)
            if found is not None:
                found.feed = found.feed or feed_id
            else:  # a column only the feed names: its list page says what it is
                yield self._page(self.sitemap.root + path, town, self.depth)
        for child in feed.children:
            if child.url:
                yield self._page(self.sitemap.to_fetch(child.url), town, self.depth)
            if child.id is not None:
                yield self._feed(town, child.id)

    def page_failed(self, failure: Failure) -> None:
        log.info("%s: %s", failure.request.url, failure.getErrorMessage())

    # -- check -------------------------------------------------------------------------

    def parse_check(self, response: Response, column: Column) -> None:
        status = response.status
        row = CheckRow(column.town, column.path, column.name, "ok", str(status))
        if 300 <= status < 400:
            location = response.headers.get("Location", b"").decode("latin-1")
            row.status = "moved"
            row.detail = self.sitemap.to_canonical(urljoin(response.url, location))
        elif status in (404, 410):
            row.status = "gone"
        elif status != 200:
            row.status = "error"
        elif (
            not isinstance(response, TextResponse)
            or not classify_page(response.body, response.url, encoding=response.encoding).is_list
        ):
            row.status = "not a list page"
        self.checks.append(row)

    def check_failed(self, failure: Failure) -> None:
        column: Column = failure.request.cb_kwargs["column"]
        self.checks.append(
            CheckRow(column.town, column.path, column.name, "error", failure.getErrorMessage())
        )
