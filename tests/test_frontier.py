"""The scheduler's frontier stays bounded on a long column (issue 15, memory): articles go
before list pages, so the articles found are fetched before the crawl runs ahead."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from crawler.spiders.frontier import ARTICLE_PRIORITY
from tests.e2e import MIRROR_SETTINGS, REPO
from tests.mocksite import MockSite

ARTICLES = 2000
PER_PAGE = 10
CONCURRENCY = 16


def test_articles_outrank_list_pages():
    assert ARTICLE_PRIORITY > 0  # list pages and page requisites keep Scrapy's default, 0


@pytest.mark.slow
@pytest.mark.e2e
def test_pending_requests_stay_bounded_on_a_long_column(tmp_path):
    """A crawl of 2,000 articles (200 list pages, a window of ten page numbers in tshj's bar,
    every page named in zhxw's): the scheduler never holds more than the list pages plus the
    articles of one list page per download slot. With one priority it ran ahead through the
    list pages (LIFO: yielded last, popped first) and held 426 requests at once here, against
    227 with articles first, for 201 list pages."""
    with MockSite(articles=ARTICLES, per_page=PER_PAGE, log=False) as site:
        list_pages = len(site.list_page_urls())
        env = {k: v for k, v in os.environ.items() if not k.startswith("DGARCHIVE_")}
        proc = subprocess.run(
            [
                sys.executable, "-m", "scrapy", "crawl", "town_news",
                "-a", "town=houjie", "-a", f"site_root={site.url}",
                "-s", f"WARC_DIR={tmp_path / 'a'}", "-s", "DB_ENABLED=False",
                "-s", "CRAWL_PAGE_REQUISITES=False", "-s", "LOG_LEVEL=INFO",
                "-s", "STATS_DUMP=True", "-s", f"CONCURRENT_REQUESTS={CONCURRENCY}",
                "-s", "SCHEDULER=tests.frontier_scheduler.CountingScheduler",
                *MIRROR_SETTINGS,
            ],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = dict(re.findall(r"'([\w/]+)': (\d+)", proc.stderr[proc.stderr.index("Dumping") :]))
    assert int(stats["item_scraped_count"]) == ARTICLES
    bound = list_pages + CONCURRENCY * PER_PAGE
    assert 0 < int(stats["scheduler/max_pending"]) <= bound, (stats, bound)
