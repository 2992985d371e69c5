"""A page bar that links every page number: each list page is asked for once, not once per
list page that links it (issue 15: O(list pages²) through the middlewares and scheduler)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from collections import Counter
from urllib.parse import urlsplit

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawler.config import SiteMap
from crawler.spiders.town_news import TownNewsSpider
from tests.e2e import MIRROR_SETTINGS, REPO
from tests.mocksite import MockSite

TSHJ = "houjie/cjjs/tshj/"
ZHXW = "houjie/xwzx/zhxw/"


@pytest.fixture(scope="module")
def full_bar_site():
    # About 75 tshj and 25 zhxw list pages; tshj's bar links every number, zhxw's
    # createPageHTML bar names them all anyway.
    with MockSite(articles=500, per_page=5, full_page_bar=True) as site:
        yield site


def _spider(site: MockSite, **settings: object) -> TownNewsSpider:
    crawler = get_crawler(
        TownNewsSpider,
        {
            "DB_ENABLED": False,
            "WARC_ENABLED": False,
            "CRAWL_PAGE_REQUISITES": False,
            "CRAWL_SITE_ROOT": site.url,
            **settings,
        },
    )
    crawler.spider = crawler._create_spider(town="houjie")
    return crawler.spider


def _fetch(url: str) -> HtmlResponse:
    with urllib.request.urlopen(url, timeout=30) as res:
        body = res.read()
    return HtmlResponse(url, body=body, encoding="utf-8", request=Request(url))


def test_the_mirror_can_link_every_page_number(full_bar_site):
    pages = full_bar_site.list_page_urls(TSHJ)
    body = _fetch(full_bar_site.mirror_url(pages[1])).text
    bar = body[body.index('id="page"') :]
    numbers = {int(n) for n in re.findall(r'href="index_(\d+)\.html"', bar)}
    assert numbers == set(range(2, len(pages) + 1)) - {2}  # page 2 is the current one
    with MockSite(articles=500, per_page=5) as windowed:  # the default: a window of ten
        body = _fetch(windowed.mirror_url(windowed.list_page_urls(TSHJ)[1])).text
        assert len(re.findall(r">\d+</a>", body[body.index('id="page"') :])) <= 10


def test_each_list_page_is_yielded_once_when_every_bar_links_every_page(full_bar_site):
    """Walk the columns as the engine would (breadth first, every request the spider yields
    is followed), counting the requests for list pages the spider yields."""
    spider = _spider(full_bar_site)
    sitemap = SiteMap(full_bar_site.url)
    yielded: Counter[str] = Counter()
    queue = [(sitemap.column_url(c), c) for c in spider.selected]
    done: set[str] = set()
    while queue:
        url, column = queue.pop(0)
        if url in done:
            continue
        done.add(url)
        for request in spider.parse_listing(_fetch(url), column):
            if request.callback == spider.parse_listing:
                yielded[request.url] += 1
                queue.append((request.url, column))
    expected = {
        sitemap.to_fetch(u)
        for u in full_bar_site.list_page_urls()
        if re.search(r"index_\d+\.html$", u)
    }
    assert len(expected) > 90
    assert expected <= set(yielded)  # every list page is still reached
    assert max(yielded.values()) == 1, yielded.most_common(3)
    # The bars linked the pages again and again; the spider dropped those itself.
    stats = spider.crawler.stats
    assert stats.get_value("crawl/list_pages_seen") > len(expected) * 10
    assert stats.get_value("crawl/list_pages") == len(done)


def test_the_cap_on_links_per_page_still_applies_first(full_bar_site):
    spider = _spider(full_bar_site, CRAWL_MAX_LINKS_PER_PAGE=10)
    column = next(c for c in spider.selected if c.path == TSHJ)
    first = _fetch(full_bar_site.url + TSHJ)
    pages = [r for r in spider.parse_listing(first, column) if r.callback == spider.parse_listing]
    assert len(pages) <= 10
    failures = spider.crawler.stats.get_value("failures") or []
    assert spider.crawler.stats.get_value("crawl/links_cut") > 0, failures


@pytest.mark.slow
@pytest.mark.e2e
def test_a_real_crawl_schedules_each_list_page_once(full_bar_site, tmp_path):
    """A whole `scrapy crawl town_news` of the mirror: the server sees each list page once
    and the duplicate filter drops almost nothing (before: thousands of list requests)."""
    full_bar_site.reset_log()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGARCHIVE_")}
    proc = subprocess.run(
        [
            sys.executable, "-m", "scrapy", "crawl", "town_news",
            "-a", "town=houjie", "-a", f"site_root={full_bar_site.url}",
            "-s", f"WARC_DIR={tmp_path / 'a'}",
            "-s", f"DB_URL=sqlite:///{tmp_path / 'db.sqlite'}",
            "-s", "CRAWL_PAGE_REQUISITES=False", "-s", "LOG_LEVEL=INFO",
            "-s", "STATS_DUMP=True",
            *MIRROR_SETTINGS,
        ],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    paths = Counter(
        urlsplit(raw).path for method, raw, _ in full_bar_site.requests_log if method == "GET"
    )
    lists = [urlsplit(u).path for u in full_bar_site.list_page_urls()]
    assert all(paths[p] == 1 for p in lists), [(p, paths[p]) for p in lists if paths[p] != 1]
    stats = dict(re.findall(r"'([\w/]+)': (\d+)", proc.stderr[proc.stderr.index("Dumping") :]))
    assert int(stats["crawl/list_pages_seen"]) > len(lists) * 10
    # What still reaches the duplicate filter is not the page bar's doing.
    assert int(stats.get("dupefilter/filtered", 0)) < len(lists)


def test_without_revisits_the_known_articles_are_only_their_urls(tmp_path):
    """An incremental crawl that revisits nothing only asks whether a URL is known: it
    holds the set of URLs, not a dict of capture details per article (issue 15, memory)."""
    from crawler.spiders.revisits import load_known
    from pipelines import store as db
    from pipelines.store import RecordStore
    from tests.conftest_db import plain_record

    url = f"sqlite:///{tmp_path / 'k.sqlite'}"
    assert load_known(url, captures=False) == set()  # no schema yet
    db.upgrade(url)
    with RecordStore(url) as writer:
        writer.save([plain_record(n) for n in range(1, 6)], None)
    full = load_known(url)
    urls = load_known(url, captures=False)
    assert isinstance(full, dict) and isinstance(urls, set)
    assert len(urls) == 5 and urls == set(full)
