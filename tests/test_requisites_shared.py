"""Each article's page requisites read from the page object's own tree (one decode, one
parse: `pipelines.pages.article_and_requisites`) are exactly those of a second decode and
parsel parse of the page (`page_requisites`, as the crawl read them before; issue 15: 7.7%
of the crawl's reactor thread), over the mirror's pages and the seed-like fixtures."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

import pipelines.pages as pages
from pipelines.pages import NotAnArticle, article_and_requisites
from pipelines.pages.article import ArticlePage
from pipelines.pages.encoding import http_charset
from pipelines.pages.requisites import page_requisites
from tests.mocksite import MockSite
from tests.test_requisites_fast import URLS
from tests.test_requisites_fast import page as random_page

FIXTURES = Path(__file__).parent / "fixtures" / "pages"
MIRROR = "http://127.0.0.1:9/"
KW = {"town": "houjie", "column_path": "houjie/cjjs/tshj/", "column_name": "图说厚街"}


def read_both(body: bytes, content_type: str | None, fetch_url: str, canonical: str):
    """(the spider's requisites, the reference's, whether the tree was used, refused)."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = HtmlResponse(fetch_url, body=body, headers=headers)
    want = page_requisites(body, fetch_url, encoding=response.encoding)
    encoding = http_charset(content_type)
    page = ArticlePage(body, canonical, encoding=encoding, requisites_url=fetch_url)
    shared = page.requisites is not None and pages._same_text(page, response.encoding)
    if shared:
        assert page.requisites == want  # the tree's own, refused page or not
    try:
        _, got = article_and_requisites(
            body, canonical, encoding=encoding, fetch_url=fetch_url,
            text_encoding=response.encoding, **KW,
        )  # fmt: skip
    except NotAnArticle:
        return None, want, shared, True
    return got, want, shared, False


def mirror_pages() -> list[tuple[str, bytes, str | None, str]]:
    """(path, body, Content-Type, canonical URL) of every article page the mirror serves:
    desktop and mobile, UTF-8, GBK and <meta>-declared GB2312, the seed captures, the
    truncated article and the fault pages."""
    site = MockSite(articles=240, faults=True)
    out = []
    for path, (kind, article) in sorted(site._paths.items()):
        res = site._resource(path)
        if kind != "json" and res.status == 200 and res.body:
            out.append((path, res.body, res.content_type, article.url))
    return out


def test_the_mirrors_articles_give_the_same_requisites():
    rows = mirror_pages()
    used = stored = 0
    encodings = set()
    for path, body, ctype, canonical in rows:
        got, want, shared, refused = read_both(body, ctype, MIRROR + path.lstrip("/"), canonical)
        encodings.add(http_charset(ctype))
        used += shared
        if not refused:
            stored += 1
            assert got == want, path
    assert want and stored > 400  # pages with requisites, most of them stored articles
    assert used == len(rows)  # no fallback needed: each read from the page object's tree
    assert {"utf-8", "gbk", None} <= encodings


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_the_seed_like_fixtures_give_the_same_requisites(name):
    body = next((FIXTURES / name).glob("input.*")).read_bytes()  # html, or a text capture
    for ctype in (None, "text/html", "text/html; charset=utf-8", "text/html; charset=gbk"):
        url = "https://www.dg.gov.cn/houjie/xwzx/zhxw/content/post_1.html"
        got, want, _, refused = read_both(body, ctype, MIRROR + "houjie/a/post_1.html", url)
        assert refused or got == want, ctype


@pytest.mark.parametrize("seed", range(3))
def test_pages_of_every_kind_of_requisite_give_the_same(seed):
    """Links, scripts, images, srcsets, <style> and style attributes, <base href>."""
    rng = random.Random(seed)
    for _ in range(200):
        body, url = random_page(rng).encode(), rng.choice(URLS)
        got, want, shared, refused = read_both(body, "text/html; charset=utf-8", url, url)
        assert shared
        assert refused or got == want, body


def test_a_page_decoded_otherwise_falls_back_to_a_second_parse(monkeypatch):
    """A page the page object decodes otherwise than `response.encoding` would (here: GBK
    bytes sent as UTF-8, which it sniffs and the second decode replaces) has its requisites
    read as before, from its bytes."""
    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return page_requisites(*args, **kwargs)

    monkeypatch.setattr(pages, "page_requisites", counted)
    path, body, ctype, canonical = next(r for r in mirror_pages() if "charset=gbk" in str(r[2]))
    assert "charset=gbk" in ctype
    url = MIRROR + path.lstrip("/")
    got, want, shared, refused = read_both(body, "text/html; charset=utf-8", url, canonical)
    assert not shared and not refused
    assert got == want and calls
    calls.clear()
    got, want, shared, _ = read_both(body, ctype, url, canonical)
    assert shared and got == want and not calls
