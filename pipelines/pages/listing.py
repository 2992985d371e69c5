"""Column list pages: article links and the page bar. Pure: URL and body in, Listing out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from lxml import etree
from parsel import Selector

from pipelines.pages.joins import base_key, folder_only
from pipelines.pages.requisites import html_requisites

ARTICLE_PATH = re.compile(r"/content/(m?)post_(\d+)\.html$")
PAGE_NAME = re.compile(r"(?:^|/)index(?:_(\d+))?\.html$")
# createPageHTML('page_div', TOTAL, CURRENT, 'index', 'html', ITEMS): the platform's JS page bar.
CREATE_PAGE = re.compile(
    r"createPageHTML\(\s*(?:['\"][^'\"]*['\"]\s*,\s*)?(\d+)\s*,\s*(\d+)\s*,\s*['\"]([\w-]+)['\"]\s*,\s*['\"](\w+)['\"]"
)
PAGE_BAR_WORDS = ("首页", "上一页", "下一页", "尾页", "首頁", "上一頁", "下一頁", "尾頁")
NEXT_WORDS = ("下一页", "下一頁")


def _in_div(name: str, inner: str = "") -> str:
    return f"ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]{inner}"


# List items: the current template, then the older one; any link to a post is the fallback.
# In XPath from each link up to its list item: the CSS form (`div.list-right_title a`) makes
# libxml2 merge one node set per item, quadratic in the list (50 s for 100,000 items).
ITEM_LINKS = (
    f"//a[{_in_div('list-right_title')}]/@href",  # div.list-right_title a
    # div.cen-div-1 div.con-right div.list_div a
    "//a["
    + _in_div("list_div", "[" + _in_div("con-right", "[" + _in_div("cen-div-1") + "]") + "]")
    + "]/@href",
)


@dataclass
class Listing:
    article_urls: list[str] = field(default_factory=list)  # absolute, as linked, in page order
    page_urls: list[str] = field(default_factory=list)  # every other list page the bar links
    next_url: str | None = None  # the page after this one, if any
    requisite_urls: list[str] = field(default_factory=list)  # stylesheets, scripts, images
    link_count: int = 0  # links the list held where article_urls were taken from


def is_article_url(url: str) -> bool:
    """True for desktop article pages (`.../content/post_<id>.html`); mobile copies excluded."""
    m = ARTICLE_PATH.search(urlsplit(url).path)
    return bool(m) and not m.group(1)


def article_id(url: str) -> int | None:
    m = ARTICLE_PATH.search(urlsplit(url).path)
    return int(m.group(2)) if m else None


def page_number(url: str) -> int:
    """1 for `index.html` or the column folder, N for `index_N.html`."""
    m = PAGE_NAME.search(urlsplit(url).path)
    return int(m.group(1)) if m and m.group(1) else 1


def requisites(sel: Selector, base: str) -> list[str]:
    """Stylesheets, scripts, icons and images a page needs to replay (`requisites.py`)."""
    return html_requisites(sel, base)


# Page-bar candidates in C: a list of 100,000 article links has no page-bar label to read.
# (`sel.css("a[href]")` is `descendant-or-self::a[@href]`.)
BAR_CANDIDATES = etree.XPath("descendant-or-self::a[@href][contains(@href, 'index')]")
LABEL_TEXT = etree.XPath("descendant-or-self::text()")  # parsel's `::text`
MEMO_LIMIT = 200_000  # entries: the memo is dropped and started again past this


def _folder(u: str) -> str:
    return urlsplit(u).path.rsplit("/", 1)[0]


def _judge(base: str, href: str) -> tuple[str | None, str]:
    """(absolute URL, its folder) of a link, the URL None unless it names a list page."""
    target = urljoin(base, href)
    path = urlsplit(target).path
    if not PAGE_NAME.search(path):
        return None, ""
    return target, path.rsplit("/", 1)[0]


def _bar_links(
    root: etree._Element, base: str, here: str, memo: dict | None
) -> tuple[list[str], str | None]:
    """The page bar: targets of links to list pages in the folder `here` labelled as a bar's
    links are (a number, 首页/上一页/下一页/尾页, or nothing), in page order, repeats kept;
    and the last 下一页's target, wherever it points."""
    if memo is not None and len(memo) > MEMO_LIMIT:
        memo.clear()
    key = base_key(base)
    pages: list[str] = []
    next_url = None
    for a in BAR_CANDIDATES(root):
        href = a.get("href").strip()
        judged = memo.get((key, href)) if memo is not None else None
        if judged is None:
            judged = _judge(base, href)
            if memo is not None and folder_only(href):
                memo[(key, href)] = judged
        target, folder = judged
        if target is None:
            continue
        label = (a.text if len(a) == 0 else "".join(LABEL_TEXT(a))) or ""
        label = label.strip()
        if label in PAGE_BAR_WORDS or label.isdigit() or label == "":
            if folder == here:
                pages.append(target)
            if label in NEXT_WORDS:
                next_url = target
    return pages, next_url


def _article_links(hrefs: list[str], base: str, limit: int | None) -> list[str]:
    """Absolute article URLs from `hrefs`, in order, deduplicated; at most `limit` + 1 of
    them (enough to tell the caller there were more) so a huge list costs no more."""
    out: dict[str, None] = {}
    for href in hrefs:
        u = urljoin(base, href.strip())
        if is_article_url(u):
            out[u] = None
            if limit is not None and len(out) > limit:
                break
    return list(out)


def parse_listing(
    body: bytes | str,
    url: str,
    *,
    encoding: str | None = None,
    max_links: int | None = None,
    memo: dict | None = None,
) -> Listing:
    """The list page at `url`; with `max_links`, `article_urls` stops after max_links + 1.

    `memo`: a dict the caller keeps across the list pages of a crawl (the same Listing with
    or without it). It holds each page-bar link's resolution, so a bar linking every page
    number costs a dict lookup per link, not a urljoin and two urlsplits."""
    if isinstance(body, bytes):
        text = body.decode(encoding or "utf-8", errors="replace")
    else:
        text = body
    sel = Selector(text=text or "<html></html>")
    base = sel.css("base::attr(href)").get() or url

    links: list[str] = []
    hrefs: list[str] = []
    for query in ITEM_LINKS:
        hrefs = sel.xpath(query).getall()
        links = _article_links(hrefs, base, max_links)
        if links:
            break
    if not links:  # template drift: any link to a post page
        hrefs = sel.css("a::attr(href)").getall()
        links = _article_links(hrefs, base, max_links)

    listing = Listing(
        article_urls=links, requisite_urls=requisites(sel, base), link_count=len(hrefs)
    )
    current = page_number(url)
    here = _folder(url)
    pages, listing.next_url = _bar_links(sel.root, base, here, memo)

    m = CREATE_PAGE.search(text)
    if m:
        total, cur, name, ext = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
        folder = urljoin(url, "./")
        # TRS-style bars count from 0 (index.html, index_1.html, …); others from 1
        # (index.html, index_2.html, …). The current page's own number tells which.
        zero_based = cur == current - 1
        numbers = range(1, total) if zero_based else range(2, total + 1)
        key = ("js", folder, name, ext, numbers)
        js_pages = memo.get(key) if memo is not None else None
        if js_pages is None:
            js_pages = [f"{folder}{name}_{n}.{ext}" for n in numbers]
            if memo is not None:
                memo[key] = js_pages
        # Every one of them shares `folder`'s path: one test stands for all.
        if js_pages and _folder(js_pages[0]) == here:
            pages.extend(js_pages)
        nxt = cur + 1
        if zero_based and nxt < total:
            listing.next_url = f"{folder}{name}_{nxt}.{ext}"
        elif not zero_based and nxt <= total:
            listing.next_url = f"{folder}{name}_{nxt}.{ext}"

    own = {url, urljoin(url, "./"), urljoin(url, "index.html")}
    # The page bar's pages share this page's folder (a breadcrumb's 首页 points elsewhere).
    if listing.next_url and _folder(listing.next_url) != here:
        listing.next_url = None
    listing.page_urls = [p for p in dict.fromkeys(pages) if p not in own]
    if listing.next_url in own:
        listing.next_url = None
    if listing.next_url is None:  # a bar without a 下一页 link: the next number
        want = current + 1
        listing.next_url = next((p for p in listing.page_urls if page_number(p) == want), None)
    return listing
