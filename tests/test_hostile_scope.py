"""End-to-end: redirects, refreshes, URL normalization, Retry-After and link bounds (issue 9).

Each test crawls the hostile site in a real `dgarchive crawl` and checks the exit code, the
report's failure under the article's own URL, what is and is not stored, what the server(s)
were asked for, and the WARC files (`check_warcs`).
"""

from __future__ import annotations

import pytest

from tests.e2e import dgarchive
from tests.hostile import CASES, HostileSite
from tests.hostile.cases.redirects import CHAIN_HOPS, LOOP_B, MOVED_TO
from tests.hostile.harness import HostileRun, crawl_hostile
from tests.hostile.server import CANONICAL, COLUMN

pytestmark = pytest.mark.e2e

REDIRECT_CASES = [
    "redirect_other_port",
    "meta_refresh_other_port",
    "refresh_header_other_port",
    "redirect_error_page",
    "redirect_self_loop",
    "redirect_two_loop",
    "redirect_chain_30",
    "redirect_dot_segments",
    "redirect_in_column",
    "redirect_canonical_host",
]


class Crawled:
    def __init__(self, run: HostileRun, site: HostileSite, foreign: HostileSite):
        self.run, self.site, self.foreign = run, site, foreign
        self.warc = run.check_warcs()

    def failure(self, name: str) -> str:
        url = self.site.fetch_url(name)
        failures = self.run.failures()
        assert url in failures, f"{name}: no failure under {url}: {failures}\n{self.run.log}"
        return failures[url]

    def archived(self, name: str, status: int) -> bool:
        url = self.site.fetch_url(name)
        return any(
            r["type"] == "response" and r["uri"] == url and r["status"] == str(status)
            for r in self.warc
        )


@pytest.fixture(scope="module")
def redirects(tmp_path_factory) -> Crawled:
    """One crawl of every redirect case, with a second server on another port of 127.0.0.1."""
    tmp = tmp_path_factory.mktemp("redirects")
    with HostileSite(["well_formed"]) as foreign, HostileSite(REDIRECT_CASES) as site:
        site.foreign_url = foreign.url
        run = crawl_hostile(site, tmp)
        return Crawled(run, site, foreign)


def test_redirect_crawl_exits_1_and_keeps_the_control(redirects: Crawled):
    run = redirects.run
    assert run.returncode == 1, run.log
    assert redirects.site.control_url in run.stored_urls()
    assert "Traceback" not in run.log


def test_redirect_to_another_port_is_archived_not_followed_and_reported(redirects: Crawled):
    reason = redirects.failure("redirect_other_port")
    assert "off-site" in reason and redirects.foreign.url in reason
    assert redirects.archived("redirect_other_port", 302)
    assert redirects.foreign.requests == []  # the foreign server was never asked
    stored = redirects.run.stored_urls()
    assert redirects.site.article_url("redirect_other_port") not in stored
    assert not any(redirects.foreign.url in u or str(redirects.foreign.port) in u for u in stored)


@pytest.mark.parametrize("name", ["meta_refresh_other_port", "refresh_header_other_port"])
def test_refresh_to_another_port_is_not_followed_nor_stored(redirects: Crawled, name: str):
    reason = redirects.failure(name)
    assert "off-site" in reason and ("meta refresh" in reason or "refresh header" in reason)
    assert redirects.archived(name, 200)  # the refreshing page itself is in the WARC
    assert redirects.foreign.requests == []
    assert redirects.site.article_url(name) not in redirects.run.stored_urls()


def test_redirect_to_the_error_page_is_not_stored_as_the_article(redirects: Crawled):
    reason = redirects.failure("redirect_error_page")
    assert "not an article of column" in reason
    assert redirects.archived("redirect_error_page", 302)
    assert redirects.site.hits("/houjie/error.html") == 0
    assert not any("error.html" in u for u in redirects.run.stored_urls())


@pytest.mark.parametrize("name", ["redirect_self_loop", "redirect_two_loop"])
def test_redirect_loops_are_failures_of_the_article(redirects: Crawled, name: str):
    assert "redirect loop" in redirects.failure(name)
    assert redirects.archived(name, 302)
    stored = redirects.run.stored_urls()
    assert redirects.site.article_url(name) not in stored
    assert f"post_{LOOP_B}.html" not in " ".join(stored)


def test_a_redirect_chain_too_long_is_reported_under_the_article(redirects: Crawled):
    reason = redirects.failure("redirect_chain_30")
    assert "more than 20 redirects" in reason
    failures = redirects.run.failures()
    assert not any("hop=" in url for url in failures), failures  # never under a hop's URL
    path = f"/{COLUMN}content/post_4200007.html"
    assert redirects.site.hits(path) == 21 < CHAIN_HOPS + 1  # REDIRECT_MAX_TIMES, not more
    assert redirects.site.article_url("redirect_chain_30") not in redirects.run.stored_urls()


def test_dot_segments_are_resolved_before_the_scope_check(redirects: Crawled):
    reason = redirects.failure("redirect_dot_segments")
    assert "/houjie/error.html" in reason and ".." not in reason
    assert not any(".." in r.path for r in redirects.site.requests)
    assert redirects.site.hits("/houjie/error.html") == 0


def test_a_redirect_inside_the_column_is_still_followed(redirects: Crawled):
    stored = redirects.run.stored_urls()
    assert f"{CANONICAL}{COLUMN}content/post_{MOVED_TO}.html" in stored
    assert redirects.site.fetch_url("redirect_in_column") not in redirects.run.failures()
    assert redirects.archived("redirect_in_column", 301)


def test_a_redirect_to_the_live_site_stays_on_the_crawled_root(redirects: Crawled):
    assert redirects.site.fetch_url("redirect_canonical_host") not in redirects.run.failures()
    assert redirects.site.hits(f"/{COLUMN}content/post_4200010.html") == 2  # on the mirror
    assert any(
        u.startswith(redirects.site.article_url("redirect_canonical_host"))
        for u in redirects.run.stored_urls()
    )


def test_dot_segment_links_on_a_list_page_do_not_pass_the_column_check(tmp_path):
    with HostileSite(["well_formed"]) as site:
        site.list_extra = [
            f"{site.url}{COLUMN}../../xwzx/zhxw/content/post_4200098.html",
            f"{site.url}{COLUMN}%2e%2e/%2E%2E/xwzx/zhxw/content/post_4200099.html",
        ]
        run = crawl_hostile(site, tmp_path)
    assert run.returncode == 0, run.log
    asked = [r.path for r in site.requests]
    assert not any("4200098" in p or "4200099" in p for p in asked), asked
    assert site.article_url("well_formed") in run.stored_urls()
    run.check_warcs()


# -- politeness ---------------------------------------------------------------------------------


def _gap(site: HostileSite, name: str) -> float:
    """Seconds between the server's first and second request for case `name`'s article."""
    times = site.arrivals[CASES[name].article_path]
    assert len(times) == 2, times
    return times[1] - times[0]


def test_retry_after_is_honoured_in_seconds_and_as_a_date(tmp_path):
    with HostileSite(["retry_after_seconds", "retry_after_date"]) as site:
        run = crawl_hostile(site, tmp_path, "-s", "RETRY_TIMES=2", "-s", "RETRY_AFTER_MAX=10")
    assert run.returncode == 0, run.log
    assert _gap(site, "retry_after_seconds") >= 1.9  # asked for 2 s (Scrapy alone: ~0 s)
    assert _gap(site, "retry_after_date") >= 1.0  # a date 3 s ahead, at 1 s resolution
    stored = run.stored_urls()
    assert {site.article_url("retry_after_seconds"), site.article_url("retry_after_date")} <= stored
    statuses = [r["status"] for r in run.check_warcs() if r["type"] == "response"]
    assert "429" in statuses and "503" in statuses  # the refusals are archived too


def test_retry_after_over_the_cap_is_reported_without_a_retry_storm(tmp_path):
    with HostileSite(["retry_after_too_long"]) as site:
        run = crawl_hostile(site, tmp_path, "-s", "RETRY_TIMES=5", "-s", "RETRY_AFTER_MAX=5")
    assert run.returncode == 1, run.log
    reason = run.failures()[site.fetch_url("retry_after_too_long")]
    assert "Retry-After 120 s is over RETRY_AFTER_MAX (5 s)" in reason
    assert site.hits(f"/{COLUMN}content/post_4200302.html") == 1  # asked once, not 6 times
    assert site.article_url("retry_after_too_long") not in run.stored_urls()
    assert site.control_url in run.stored_urls()
    run.check_warcs()


def test_a_list_of_100000_links_is_cut_and_reported(tmp_path):
    with HostileSite([]) as site:
        site.list_extra = [f"content/post_{9_000_000 + i}.html" for i in range(100_000)]
        run = crawl_hostile(site, tmp_path, "-s", "CRAWL_MAX_LINKS_PER_PAGE=200", timeout=180)
    list_url = f"{site.url}{COLUMN}"
    failures = run.failures()
    assert "100001 article links on one page; followed the first 200" in failures[list_url]
    articles = [r for r in site.requests if "/content/post_" in r.path]
    assert len(articles) == 200, len(articles)  # the control and 199 of the 100,000
    assert site.control_url in run.stored_urls()
    assert run.returncode == 1, run.log
    assert "WARNING" in run.log and "CRAWL_MAX_LINKS_PER_PAGE" in run.log
    run.check_warcs()


def test_an_over_long_link_is_a_warning_and_a_failure(tmp_path):
    with HostileSite(["well_formed"]) as site:
        long_link = f"content/post_4200399.html?{'x' * 2100}"
        site.list_extra = [long_link]
        run = crawl_hostile(site, tmp_path)
    assert run.returncode == 1, run.log
    reasons = [r for r in run.failures().values() if "over URLLENGTH_LIMIT 2083" in r]
    assert len(reasons) == 1, run.failures()
    assert any("WARNING" in line and "URLLENGTH_LIMIT" in line for line in run.log.splitlines())
    assert site.hits(f"/{COLUMN}content/post_4200399.html") == 0
    assert site.article_url("well_formed") in run.stored_urls()
    run.check_warcs()


def test_an_empty_site_root_is_a_usage_error(tmp_path):
    result = dgarchive(
        "crawl",
        "--site-root",
        "",
        "--archive",
        str(tmp_path / "a"),
        "--db",
        f"sqlite:///{tmp_path / 'db.sqlite'}",
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--site-root" in result.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "db.sqlite").exists()


@pytest.mark.parametrize("delay", ["0", "0.3"])
def test_a_redirect_to_a_page_also_linked_is_no_failure_in_either_order(tmp_path, delay):
    """The 301's target is requested directly too; the duplicate filter drops whichever comes
    second. Neither order loses an article, so neither is a failure (exit 0): a delay between
    requests changes which one the scheduler meets first."""
    with HostileSite(["redirect_to_linked_article"]) as site:
        run = crawl_hostile(site, tmp_path, "-s", f"DOWNLOAD_DELAY={delay}")
    assert run.returncode == 0, run.log[-3000:]
    assert not run.failures()
    assert site.control_url in run.stored_urls()
    assert site.article_url("redirect_to_linked_article") not in run.stored_urls()
    run.check_warcs()
