"""Which page requisites the spider fetches: once per crawl, on the site root, unless held."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response

from crawler.report import OPTIONAL_META_KEY
from pipelines.pages import article_record
from pipelines.pages.encoding import http_charset
from pipelines.pages.requisites import css_requisites, favicon_url

if TYPE_CHECKING:
    from pipelines.records import ArticleRecord


class RequisiteMixin:
    """TownNewsSpider's page requisites: requests for them and the stylesheets' own.

    Page requisites (stylesheets and what they import, scripts, icons, images, srcsets, the
    site's favicon.ico) of every archived list page and article are fetched once per crawl,
    on the site root only; robots.txt rules them like any request. The incremental crawl
    skips those the archive already holds (`held`, from `pipelines.warc.inventory`); `full`
    fetches them again. The spider provides `sitemap`, `held`, `requisites`, `crawler`,
    `_capped` and `on_error`.
    """

    def _requisites(self, urls: list[str], column_path: str | None) -> Iterator[scrapy.Request]:
        """Requests for the requisites not yet asked for in this crawl nor held from earlier
        ones; the site's favicon.ico with the first page. Off-site URLs are never fetched."""
        asked = self.__dict__.setdefault("_requisites_asked", set())
        # URLs as linked already judged: every article links the same chrome, and a repeat
        # changes nothing (off the site, or its fetch URL already in `asked`), so it costs a
        # set lookup instead of two normalizations.
        seen = self.__dict__.setdefault("_requisites_seen", set())
        favicon = self.__dict__.get("_favicon") or self.__dict__.setdefault(
            "_favicon", favicon_url(self.sitemap.root)
        )
        if not asked:
            urls = [*urls, favicon]
        stats = self.crawler.stats
        for url in urls:
            if url in seen:
                continue
            seen.add(url)
            if not self.sitemap.in_site(url):
                continue
            fetch = self.sitemap.to_fetch(url)
            if fetch in asked:
                continue
            asked.add(fetch)
            if fetch in self.held:
                stats.inc_value("crawl/requisites_held")
                continue
            stats.inc_value("crawl/requisites")
            meta: dict[str, Any] = {"dgarchive_column": column_path}
            if url == favicon:
                # Asked for whether or not a page links it (as browsers do): a site without
                # one answers 404, archived for replay, and that is no failure of the crawl.
                meta[OPTIONAL_META_KEY] = True
            yield scrapy.Request(
                fetch, callback=self.parse_requisite, errback=self.on_error, meta=meta
            )

    def parse_requisite(self, response: Response) -> Iterator[scrapy.Request]:
        """A stylesheet's images, fonts and imported stylesheets; anything else is only
        archived (by the capture)."""
        ctype = (header_text(response, b"Content-Type") or "").split(";")[0].strip().lower()
        css = ctype == "text/css" or (not ctype and urlsplit(response.url).path.endswith(".css"))
        if not (self.requisites and css and response.status == 200):
            return
        charset = http_charset(header_text(response, b"Content-Type"))
        urls = css_requisites(response.body, response.url, encoding=charset)
        urls = self._capped(response.url, "stylesheet requisites", urls)
        yield from self._requisites(urls, response.meta.get("dgarchive_column"))


def header_text(response: Response, name: bytes) -> str | None:
    """A response header as text (latin-1, as sent), or None."""
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def article_alone(
    body: bytes, url: str, *, fetch_url: str, text_encoding: str | None, **kwargs: Any
) -> tuple[ArticleRecord, list[str]]:
    """`pipelines.pages.article_and_requisites` for a crawl without page requisites
    (CRAWL_PAGE_REQUISITES off): the record alone, no requisites read."""
    return article_record(body, url, **kwargs), []
