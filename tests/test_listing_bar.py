"""The page bar read fast (one XPath, lxml labels, a memo of resolved links) gives exactly
what the straightforward reading gave: the same page URLs in the same order and the same
next page, whatever the links, labels, `<base href>` and page URL (issue 15)."""

from __future__ import annotations

import random
from urllib.parse import urljoin, urlsplit

import pytest
from parsel import Selector

from pipelines.pages.listing import (
    CREATE_PAGE,
    NEXT_WORDS,
    PAGE_BAR_WORDS,
    PAGE_NAME,
    page_number,
    parse_listing,
)

H = "http://127.0.0.1:9"
ROOT = f"{H}/houjie/cjjs/tshj/"


def reference(text: str, url: str) -> tuple[list[str], str | None]:
    """The page bar as parse_listing read it before: a Selector and a urljoin per link."""
    sel = Selector(text=text or "<html></html>")
    base = sel.css("base::attr(href)").get() or url
    current = page_number(url)
    pages: list[str] = []
    next_url = None
    for a in sel.css("a[href]"):
        href = a.attrib["href"].strip()
        if "index" not in href:
            continue
        target = urljoin(base, href)
        if not PAGE_NAME.search(urlsplit(target).path):
            continue
        label = "".join(a.css("::text").getall()).strip()
        if label in PAGE_BAR_WORDS or label.isdigit() or label == "":
            pages.append(target)
            if label in NEXT_WORDS:
                next_url = target
    m = CREATE_PAGE.search(text)
    if m:
        total, cur, name, ext = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
        folder_url = urljoin(url, "./")
        zero_based = cur == current - 1
        numbers = range(1, total) if zero_based else range(2, total + 1)
        pages.extend(f"{folder_url}{name}_{n}.{ext}" for n in numbers)
        nxt = cur + 1
        if (zero_based and nxt < total) or (not zero_based and nxt <= total):
            next_url = f"{folder_url}{name}_{nxt}.{ext}"
    own = {url, urljoin(url, "./"), urljoin(url, "index.html")}

    def folder(u: str) -> str:
        return urlsplit(u).path.rsplit("/", 1)[0]

    pages = [p for p in pages if folder(p) == folder(url)]
    if next_url and folder(next_url) != folder(url):
        next_url = None
    page_urls = [p for p in dict.fromkeys(pages) if p not in own]
    if next_url in own:
        next_url = None
    if next_url is None:
        want = current + 1
        next_url = next((p for p in page_urls if page_number(p) == want), None)
    return page_urls, next_url


HREFS = [
    "index.html", "index_2.html", " index_3.html ", "./index_4.html", "../tshj/index_5.html",
    "/houjie/cjjs/tshj/index_6.html", "//127.0.0.1:9/houjie/cjjs/tshj/index_7.html",
    "https://www.dg.gov.cn/houjie/cjjs/tshj/index_8.html", f"{ROOT}index_9.html",
    "?index_2.html", "#index", ";index_2.html", "index_2.html?x=1", "index_2.html#f",
    "http:index_3.html", "HTTP://127.0.0.1:9/houjie/cjjs/tshj/index_3.html",
    "index_\t2.html", "\x01index_2.html", "index_0.html", "index_2.htm", "/houjie/index.html",
    "../zhxw/index_2.html", "sub/index_2.html", "index_10.html;p", "Index_2.html",
    "index_２.html", "content/post_4000001.html", "indexes.html", "//?index_2.html",
    "http://?index_2.html", "https:///houjie/cjjs/tshj/index_2.html", "http://127.0.0.1:9?index",
    "http://127.0.0.1:9/houjie/cjjs/tshj/index_4.html", "ftp://h/index_2.html", "http:?index_3",
]  # fmt: skip
LABELS = [
    "2", " 3 ", "下一页", "下一頁", "首页", "尾页", "上一页", "", "<b>4</b>", "5<!-- c -->6",
    "<span>下一</span>页", "２", "next", "<img src=x.png>", "\u3000", "1 2", "&#49;",
]  # fmt: skip
URLS = [
    ROOT, ROOT + "index.html", ROOT + "index_3.html", ROOT + "index_3.html?x=1",
    f"{H}/houjie/xwzx/zhxw/index_2.html", f"{H}/houjie/cjjs/./tshj/index_2.html",
    f"{H}/houjie/cjjs/tshj", ROOT + "index_2.html#top",
]  # fmt: skip
BASES = ["", "<base href='/houjie/cjjs/tshj/sub/'>", f"<base href='{H}/houjie/cjjs/tshj/x.html?q'>"]
SCRIPTS = [
    "", "<script>createPageHTML('page_div', 5, 1, 'index', 'html', 70);</script>",
    "<script>createPageHTML(4, 0, 'index', 'html');</script>",
    "<script>createPageHTML(4, 4, 'index', 'shtml');</script>",
]  # fmt: skip


def page(rng: random.Random) -> str:
    links = " ".join(
        f'<a href="{rng.choice(HREFS)}">{rng.choice(LABELS)}</a>' for _ in range(rng.randint(0, 30))
    )
    return (
        f"<html><head>{rng.choice(BASES)}</head><body><div class='page'>{links}</div>"
        f"{rng.choice(SCRIPTS)}</body></html>"
    )


@pytest.mark.parametrize("seed", range(6))
def test_the_page_bar_is_read_as_before_with_and_without_a_memo(seed):
    rng = random.Random(seed)
    memo: dict = {}  # shared by every page, as the spider shares its own across a crawl
    for _ in range(300):
        text, url = page(rng), rng.choice(URLS)
        want = reference(text, url)
        for m in (None, memo):
            listing = parse_listing(text.encode(), url, memo=m)
            assert (listing.page_urls, listing.next_url) == want, (text, url)


def test_a_full_memo_starts_again():
    from pipelines.pages import listing as module

    memo = {("x", str(n)): (None, "") for n in range(module.MEMO_LIMIT + 1)}
    text = '<a href="index_2.html">2</a>'
    assert parse_listing(text, ROOT, memo=memo).page_urls == [ROOT + "index_2.html"]
    assert len(memo) == 1
