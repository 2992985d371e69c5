"""Revisits wait as database rows, not as pending requests: with `--revisit-older-than`, the
spider hands the scheduler a stale article only while it holds fewer than
`REVISIT_BACKLOG` requests, instead of every stored article at the start of the crawl."""

from __future__ import annotations

import json
import re

import pytest

from crawler.spiders.revisits import REVISIT_BACKLOG
from tests.e2e import crawl_mirror
from tests.mocksite import MockSite

ARTICLES = 1200
PER_PAGE = 10
CONCURRENCY = 16


@pytest.mark.slow
@pytest.mark.e2e
def test_revisits_of_every_stored_article_keep_the_scheduler_bounded(tmp_path):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with MockSite(articles=ARTICLES, per_page=PER_PAGE, log=False) as site:
        first = crawl_mirror(site.url, tmp_path / "a", db)
        assert first.returncode == 0, first.stderr[-3000:]
        second = crawl_mirror(
            site.url, tmp_path / "a", db,
            "--revisit-older-than", "0", "--report", str(tmp_path / "r.json"),
            "-s", "SCHEDULER=tests.frontier_scheduler.CountingScheduler",
            "-s", "STATS_DUMP=True", "-s", "LOG_LEVEL=INFO",
            "-s", f"CONCURRENT_REQUESTS={CONCURRENCY}",
        )  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    report = json.loads((tmp_path / "r.json").read_text())
    # Every stored article was revisited, more than the backlog holds at once.
    assert report["revisits"] == ARTICLES > 2 * REVISIT_BACKLOG, report
    stats = dict(re.findall(r"'([\w/]+)': (\d+)", second.stderr[second.stderr.index("Dumping") :]))
    # Before the bound the scheduler held every revisit at once (over 1,200 here). Now: the
    # backlog, plus the requests parsed pages add before the next look at it (the few list
    # pages an incremental crawl reads, and the articles and requisites of the pages in
    # flight).
    bound = REVISIT_BACKLOG + CONCURRENCY * PER_PAGE
    assert 0 < int(stats["scheduler/max_pending"]) <= bound, (stats["scheduler/max_pending"], bound)
