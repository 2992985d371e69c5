"""Page requisites read with compiled queries and a memo of resolved links give exactly what
parsel's queries and a urljoin per link gave, page after page (issue 15: each article's
requisites were a twelfth of the crawl's reactor thread)."""

from __future__ import annotations

import random
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from parsel import Selector

from pipelines.pages import requisites as module
from pipelines.pages.requisites import (
    LINK_HREFS,
    SRC_ATTRS,
    SRCSET_ATTRS,
    STYLE_ATTRS,
    STYLE_TEXT,
    css_urls,
    page_requisites,
    srcset_urls,
)

H = "http://127.0.0.1:9"


def reference(body: str, url: str) -> list[str]:
    """page_requisites as it was: parsel's getall() and a urljoin per link."""

    def absolute(href: str, base: str) -> str | None:
        href = href.strip()
        if not href or href.startswith("#"):
            return None
        u = urldefrag(urljoin(base, href)).url
        return u if urlsplit(u).scheme in ("http", "https") else None

    sel = Selector(text=body or "<html></html>")
    base = urljoin(url, sel.xpath("//base/@href").get() or "")
    found = [absolute(h, base) for h in sel.xpath(LINK_HREFS).getall()]
    found += [absolute(h, base) for h in sel.xpath(SRC_ATTRS).getall()]
    for srcset in sel.xpath(SRCSET_ATTRS).getall():
        found += [absolute(h, base) for h in srcset_urls(srcset)]
    for css in sel.xpath(STYLE_TEXT).getall() + sel.xpath(STYLE_ATTRS).getall():
        found += [absolute(u, base) for u in css_urls(css)]
    return list(dict.fromkeys(u for u in found if u))


HREFS = [
    "/houjie/css/style.css", "../images/a.png", "b.png", "./c.png#frag", "?v=1", "#x", "",
    " d.png ", "//cdn.example.org/e.js", "https://www.dg.gov.cn/houjie/images/f.png",
    "http://bdimg.share.baidu.com/static/api/js/share.js?cdnversion=486", "javascript:void(0)",
    "data:image/png;base64,AAAA", "g.png?x=1", "h\t.png", "http://?x.png", "https:///y.png",
    "HTTPS://www.dg.gov.cn/z.png", "mailto:a@b", "i.png;p", "/", "..", "图片.png", "http:?v.png",
    "http:w.png", "/\t/cdn.example.org/k.png",
]  # fmt: skip
URLS = [f"{H}/houjie/cjjs/tshj/content/post_{n}.html" for n in (1, 2)] + [
    f"{H}/houjie/xwzx/zhxw/content/post_3.html",
    f"{H}/houjie/cjjs/tshj/",
    f"{H}/x?q=1",
]
BASES = ["", "<base href='/houjie/other/'>", "<base href='http://other.example/a/b.html'>"]


def page(rng: random.Random) -> str:
    def h() -> str:
        return rng.choice(HREFS)

    parts = []
    for _ in range(rng.randint(0, 12)):
        kind = rng.randrange(7)
        if kind == 0:
            rel = rng.choice(["stylesheet", "icon", "shortcut icon", "Apple-Touch-Icon", "next"])
            parts.append(f'<link rel="{rel}" href="{h()}">')
        elif kind == 1:
            parts.append(f'<img src="{h()}">')
        elif kind == 2:
            parts.append(f'<script src="{h()}"></script>')
        elif kind == 3:
            parts.append(f'<img srcset="{h()} 1x, {h()} 2x">')
        elif kind == 4:
            parts.append(f'<style>@import "{h()}"; .a{{background:url({h()})}}</style>')
        elif kind == 5:
            parts.append(f"<div style=\"background: url('{h()}')\">x</div>")
        else:
            parts.append(f'<input type="image" src="{h()}">')
    return f"<html><head>{rng.choice(BASES)}</head><body>{''.join(parts)}</body></html>"


@pytest.mark.parametrize("seed", range(4))
def test_requisites_are_read_as_before(seed):
    rng = random.Random(seed)
    for _ in range(300):
        body, url = page(rng), rng.choice(URLS)
        assert page_requisites(body.encode(), url) == reference(body, url), (body, url)


def test_the_memo_is_bounded(monkeypatch):
    monkeypatch.setattr(module, "RESOLVED_LIMIT", 3)
    module._RESOLVED.clear()
    body = "".join(f'<img src="i{n}.png">' for n in range(10))
    want = [f"{H}/a/i{n}.png" for n in range(10)]
    assert page_requisites(body, f"{H}/a/p.html") == want
    assert page_requisites(body, f"{H}/a/q.html") == want
    assert len(module._RESOLVED) <= 3


def test_the_spider_asks_for_the_same_requisites_as_before():
    """`_requisites` skips URLs it has judged before (a set of URLs as linked): the same
    requests, in the same order, with the same meta and counters as judging each again."""
    from scrapy.utils.test import get_crawler

    from crawler.report import OPTIONAL_META_KEY
    from crawler.spiders.town_news import TownNewsSpider
    from pipelines.pages.requisites import favicon_url

    def spider():
        crawler = get_crawler(
            TownNewsSpider,
            {"DB_ENABLED": False, "WARC_ENABLED": False, "CRAWL_SITE_ROOT": f"{H}/"},
        )
        crawler.spider = crawler._create_spider(town="houjie")
        return crawler.spider

    def reference(s, urls, asked):
        favicon = favicon_url(s.sitemap.root)
        if not asked:
            urls = [*urls, favicon]
        out = []
        for url in urls:
            if not s.sitemap.in_site(url):
                continue
            fetch = s.sitemap.to_fetch(url)
            if fetch in asked:
                continue
            asked.add(fetch)
            if fetch in s.held:
                s.crawler.stats.inc_value("crawl/requisites_held")
                continue
            s.crawler.stats.inc_value("crawl/requisites")
            out.append((fetch, url == favicon))
        return out

    pool = [
        f"{H}/houjie/css/style.css", f"{H}/houjie/images/a.png", f"{H}/houjie/./images/a.png",
        "https://www.dg.gov.cn/houjie/images/a.png", "http://www.dg.gov.cn/houjie/js/x.js",
        "http://elsewhere.example/a.png", f"{H}/favicon.ico", f"{H}/houjie/%69mages/b.png",
        f"{H}/houjie/held.png", "ftp://127.0.0.1:9/x.png",
    ]  # fmt: skip
    rng = random.Random(7)
    new, old = spider(), spider()
    new.held = old.held = {f"{H}/houjie/held.png"}
    asked: set[str] = set()
    for _ in range(200):
        urls = [rng.choice(pool) for _ in range(rng.randint(0, 6))]
        got = [(r.url, bool(r.meta.get(OPTIONAL_META_KEY))) for r in new._requisites(urls, "c/")]
        assert got == reference(old, urls, asked)
    assert new.crawler.stats.get_stats() == old.crawler.stats.get_stats()


def test_a_json_body_fails_as_before():
    with pytest.raises(ValueError, match="type 'json'"):
        reference('{"a": 1}', f"{H}/a.html")
    with pytest.raises(ValueError, match="type 'json'"):
        page_requisites(b'{"a": 1}', f"{H}/a.html")
