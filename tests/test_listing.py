"""ListingPage parsing: item markups, the page bar in links or script, scope of page links."""

from __future__ import annotations

import pytest

from pipelines.pages.listing import is_article_url, page_number, parse_listing

ROOT = "http://127.0.0.1:9/houjie/cjjs/tshj/"

CURRENT = """<div class="crumb"><a href="/houjie/index.html">首页</a></div>
<div class="list-right_title fon_1"><a href="https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_4000001.html">a</a><span>2026-01-01</span></div>
<div class="list-right_title fon_1"><a href="content/post_4000002.html">b</a><span>2026-01-01</span></div>
<a href="http://www.gd.gov.cn/">elsewhere</a>
<div class="page"><a href="index.html">首页</a><a href="index_2.html">下一页</a><a href="index_2.html">2</a>
<a href="https://www.dg.gov.cn/houjie/cjjs/tshj/index_3.html">3</a><a href="index_3.html">尾页</a></div>
<link rel="stylesheet" href="/houjie/css/style.css"><img src="/houjie/images/logo.png">"""

OLDER = """<div class="cen-div-1"><div class="con-right"><div class="list_div">
<a href="/houjie/xwzx/zhxw/content/post_4000010.html">x</a><span>2025-01-01</span></div></div></div>
<div id="page_div"></div><script>createPageHTML('page_div', 4, 1, 'index', 'html', 70);</script>"""


def test_current_template_items_and_page_bar():
    listing = parse_listing(CURRENT.encode(), ROOT)
    assert listing.article_urls == [
        "https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_4000001.html",
        ROOT + "content/post_4000002.html",
    ]
    assert listing.next_url == ROOT + "index_2.html"
    assert ROOT + "index_2.html" in listing.page_urls
    assert "https://www.dg.gov.cn/houjie/cjjs/tshj/index_3.html" in listing.page_urls
    # The breadcrumb's 首页 is not part of this column's page bar.
    assert not any(u.endswith("/houjie/index.html") for u in listing.page_urls)
    assert "http://127.0.0.1:9/houjie/css/style.css" in listing.requisite_urls


def test_older_template_and_script_page_bar():
    url = "http://127.0.0.1:9/houjie/xwzx/zhxw/index.html"
    listing = parse_listing(OLDER, url)
    assert listing.article_urls == ["http://127.0.0.1:9/houjie/xwzx/zhxw/content/post_4000010.html"]
    assert [page_number(u) for u in listing.page_urls] == [2, 3, 4]
    assert listing.next_url.endswith("/index_2.html")


def test_zero_based_script_page_bar():
    listing = parse_listing("<script>createPageHTML(3, 0, 'index', 'html');</script>", ROOT)
    assert [u.rsplit("/", 1)[1] for u in listing.page_urls] == ["index_1.html", "index_2.html"]
    assert listing.next_url == ROOT + "index_1.html"


def test_last_page_has_no_next():
    listing = parse_listing(OLDER.replace("4, 1,", "4, 4,"), ROOT + "index_4.html")
    assert listing.next_url is None


def test_fallback_finds_post_links_when_the_template_drifts():
    html = '<ul class="new-list"><li><a href="content/post_4100000.html">t</a></li></ul>'
    assert parse_listing(html, ROOT).article_urls == [ROOT + "content/post_4100000.html"]


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_3987862.html", True),
        ("https://www.dg.gov.cn/houjie/cjjs/tshj/content/mpost_3987862.html", False),
        ("https://www.dg.gov.cn/houjie/cjjs/tshj/index_2.html", False),
    ],
)
def test_article_urls(url, expected):
    assert is_article_url(url) is expected
