"""The list pages a list page's bar links: each asked for once per spider, judged cheaply.

A page bar that links every page number would otherwise make every list page yield a request
for every other one, each walking the spider middlewares and the scheduler before the
duplicate filter drops it: O(list pages²) (issue 15). The spider keeps, per process:

- `listed`: fetch URLs of the list pages it has asked for (normalized by `SiteMap.to_fetch`,
  as requests are);
- `bar_links`: (column, page URL as the bar gave it) already judged, so a bar of 2,000 links
  on each of 2,000 pages is a set lookup per link, not two normalizations;
- `bar_memo`: the page object's memo of resolved bar links (`parse_listing(memo=)`).

Only an optimisation: the scheduler's duplicate filter (Redis's in the distributed mode,
shared by all workers) still decides what is crawled; these sets only keep one process from
asking twice. Skipped links are counted once a page (`crawl/list_pages_seen`): a stats call
per link cost as much as the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import scrapy

from pipelines.pages.listing import page_number

if TYPE_CHECKING:
    from crawler.config import Column
    from crawler.spiders.town_news import TownNewsSpider


def init_page_bar(spider: TownNewsSpider) -> None:
    spider.listed = set()
    spider.bar_links = set()
    spider.bar_memo = {}


def page_requests(
    spider: TownNewsSpider, page_url: str, column: Column, pages: list[str]
) -> Iterator[scrapy.Request]:
    """Requests for the list pages `pages` (capped already) linked from `page_url`."""
    spider.listed.add(spider.sitemap.to_fetch(page_url))
    bar_links, listed, path = spider.bar_links, spider.listed, column.path
    seen = 0
    for page in pages:
        if (path, page) in bar_links:
            seen += 1
            continue
        bar_links.add((path, page))
        fetch = spider.sitemap.to_fetch(page)
        if not (spider._fetch_in_column(fetch, column) and page_number(page) > 0):
            continue
        if fetch in listed:
            seen += 1
            continue
        listed.add(fetch)
        yield spider._request(fetch, spider.parse_listing, column)
    if seen:
        spider.crawler.stats.inc_value("crawl/list_pages_seen", seen)
