"""Column pages for `dgarchive towns`: whether a page is a column's list page, the column's
name (breadcrumb or heading), how many list pages its page bar counts, its newest article
date, the links a discovery may follow, and the column JSON feed (`/postmeta/i/<id>.json`).

Pure: body and URL in, plain values out; no requests, settings or configuration.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urldefrag, urljoin, urlsplit

from parsel import Selector

from pipelines.pages.listing import (
    CREATE_PAGE,
    ITEM_LINKS,
    PAGE_NAME,
    is_article_url,
    page_number,
    parse_listing,
)
from pipelines.text import normalize_space, to_simplified

# A news column is named like one (综合新闻, 镇街动态, 图说厚街, 一把手访谈 …) and sits in no
# section of documents or services: 政务公开 lists notices and regulations, not news, even
# under a name such as 政务动态.
NEWS_WORDS = ("新闻", "动态", "要闻", "图说", "访谈", "资讯", "快讯", "聚焦", "播报", "视点")
NOT_NEWS_WORDS = (
    "政务公开", "信息公开", "办事", "服务", "通知公告", "公示", "文件", "政策", "招标", "采购",
    "人事", "规划", "互动", "留言",
)  # fmt: skip
# Where the platform's templates put the breadcrumb: a class, or the "当前位置" label.
CRUMB_CLASSES = ("position", "crumb", "location", "dqwz", "weizhi")
CRUMB_LABELS = ("当前位置", "您的位置", "您现在的位置", "所在位置")
CRUMB_SEPARATORS = re.compile(r"\s*(?:>|＞|»|›|→|/|\|)\s*")
HEADINGS = (
    "div.list-right_tit span::text",
    "div.list-right_tit::text",
    "div.left-title::text",
    "div.list-left_title::text",
    "h2::text",
)
DATE = re.compile(r"(20\d\d|19\d\d)[-/.年](\d{1,2})[-/.月](\d{1,2})")
PAGE_TOTAL = re.compile(r"共\s*(\d+)\s*页")
FEED_REF = re.compile(r"/postmeta/i/(\d+)\.json")
SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "#")


@dataclass(frozen=True)
class ColumnPage:
    """What one page says about the column it may be."""

    url: str
    name: str  # the column's own name, "" when the page names none
    trail: tuple[str, ...]  # the breadcrumb's levels, home first, the name last
    article_urls: tuple[str, ...]  # article links in list-item markup, page order
    item_markup: bool  # the links sit in the platform's list items (not a home page block)
    pages: int  # list pages the page bar counts (1 without a bar)
    page_bar: bool
    newest: date | None  # the newest date beside a list item
    feed: int | None  # a column feed id the page refers to
    links: tuple[str, ...] = field(default=())  # other links, absolute, for navigation

    @property
    def is_list(self) -> bool:
        """A column list page: article items in list markup, or article links under a page
        bar (a template that drifted). A home page's headline block is neither."""
        return bool(self.article_urls) and (self.item_markup or self.page_bar)

    @property
    def is_news(self) -> bool:
        """A list page of a news column (not a document list, not a service page)."""
        return self.is_list and is_news_column(self.name, self.trail)


def is_news_column(name: str, trail: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether a column named `name` under the breadcrumb `trail` is a news column."""
    levels = [to_simplified(n) for n in (*trail, name) if n]
    if any(word in level for level in levels for word in NOT_NEWS_WORDS):
        return False
    simple = to_simplified(name)
    return any(word in simple for word in NEWS_WORDS)


def classify_page(body: bytes | str, url: str, *, encoding: str | None = None) -> ColumnPage:
    """Read one page fetched from `url` (its address as fetched)."""
    text = body.decode(encoding or "utf-8", errors="replace") if isinstance(body, bytes) else body
    sel = Selector(text=text or "<html></html>")
    base = sel.css("base::attr(href)").get() or url
    listing = parse_listing(text, url)

    item_links: list[str] = []
    for query in ITEM_LINKS:
        item_links = [
            u for u in (urljoin(base, h.strip()) for h in sel.xpath(query).getall())
            if is_article_url(u)
        ]  # fmt: skip
        if item_links:
            break
    articles = list(dict.fromkeys(item_links or listing.article_urls))
    has_bar = bool(listing.page_urls) or bool(CREATE_PAGE.search(text))
    trail = breadcrumb(sel)
    name = trail[-1] if trail else heading(sel)
    return ColumnPage(
        url=url,
        name=name,
        trail=tuple(trail),
        article_urls=tuple(articles),
        item_markup=bool(item_links),
        pages=page_count(text, url, listing.page_urls),
        page_bar=has_bar,
        newest=newest_item_date(sel, base),
        feed=feed_reference(text),
        links=tuple(navigation_links(sel, base, listing.page_urls)),
    )


def breadcrumb(sel: Selector) -> list[str]:
    """The breadcrumb's levels (首页 … column), or [] when the page has none."""
    for node in sel.xpath("//*[@class]"):
        classes = (node.attrib.get("class") or "").lower()
        if any(c in classes for c in CRUMB_CLASSES):
            levels = _levels(node)
            if len(levels) >= 2:
                return levels
    for label in CRUMB_LABELS:
        node = sel.xpath(f"//*[contains(text(), '{label}')][1]")
        if node:
            levels = _levels(node[0])
            if len(levels) >= 2:
                return levels
    return []


def _levels(node: Selector) -> list[str]:
    raw = normalize_space(" ".join(node.xpath(".//text()").getall()))
    for label in CRUMB_LABELS:
        raw = re.sub(rf"^.*?{label}\s*[:：]?\s*", "", raw, count=1)
    return [p for p in (s.strip() for s in CRUMB_SEPARATORS.split(raw)) if p]


def heading(sel: Selector) -> str:
    """The list's heading, the ColumnName meta tag or the first part of `<title>`."""
    for query in HEADINGS:
        value = normalize_space(sel.css(query).get() or "")
        if value:
            return value
    meta = sel.xpath("//meta[translate(@name,'COLUMNAME','columname')='columnname']/@content")
    if meta.get():
        return normalize_space(meta.get() or "")
    title = normalize_space(sel.css("title::text").get() or "")
    parts = [p for p in re.split(r"[_|－-]", title) if p.strip()]
    return parts[-2].strip() if len(parts) >= 3 else ""


def page_count(text: str, url: str, page_urls: list[str]) -> int:
    """List pages the page bar counts: the JavaScript bar's total, "共N页", or the highest
    page it links (the 尾页 link), whichever is largest; 1 without a bar."""
    counts = [1]
    m = CREATE_PAGE.search(text)
    if m:
        counts.append(int(m.group(1)))
    counts += [int(n) for n in PAGE_TOTAL.findall(text)]
    counts += [page_number(u) for u in page_urls if PAGE_NAME.search(urlsplit(u).path)]
    counts.append(page_number(url))
    return max(counts)


def newest_item_date(sel: Selector, base: str) -> date | None:
    """The newest date written beside a list item's article link."""
    found: list[date] = []
    for link in sel.xpath("//a[@href]"):
        if not is_article_url(urljoin(base, link.attrib["href"].strip())):
            continue
        parent = link.xpath("..")
        found += _dates(" ".join(parent.xpath(".//text()").getall()))
    return max(found, default=None)


def _dates(text: str) -> list[date]:
    out = []
    for y, m, d in DATE.findall(text):
        try:
            out.append(date(int(y), int(m), int(d)))
        except ValueError:
            continue
    return out


def feed_reference(text: str) -> int | None:
    """The column feed id the page refers to (`/postmeta/i/<id>.json`), if any."""
    m = FEED_REF.search(text)
    return int(m.group(1)) if m else None


def navigation_links(sel: Selector, base: str, page_urls: list[str]) -> list[str]:
    """Every link a discovery may follow from this page: absolute, without fragment, in page
    order; articles, the page's own bar, scripts and mail links left out."""
    bar = set(page_urls)
    out: dict[str, None] = {}
    for href in sel.css("a::attr(href)").getall():
        href = href.strip()
        if not href or href.lower().startswith(SKIP_SCHEMES):
            continue
        u = urldefrag(urljoin(base, href))[0]
        if urlsplit(u).scheme not in ("http", "https") or is_article_url(u) or u in bar:
            continue
        if "/content/" in urlsplit(u).path:  # mobile copies and other article forms
            continue
        out[u] = None
    return list(out)


def column_path_of(article_url: str) -> str | None:
    """The column folder of an article URL: `/a/b/content/post_1.html` -> `/a/b/`."""
    path = urlsplit(article_url).path
    head, sep, _ = path.rpartition("/content/")
    return head + "/" if sep else None


@dataclass(frozen=True)
class FeedChild:
    id: int | None
    name: str
    url: str | None  # the child column's list page, when the feed gives it


@dataclass(frozen=True)
class ColumnFeed:
    """A column JSON feed: `{"name", "updated", "articles": [...], "children": [...]}`."""

    name: str
    article_urls: tuple[str, ...]
    newest: date | None
    children: tuple[FeedChild, ...]

    @property
    def column_path(self) -> str | None:
        """The folder its articles live in (the column's list page), if they agree."""
        paths = {column_path_of(u) for u in self.article_urls} - {None}
        return paths.pop() if len(paths) == 1 else None


def parse_feed(body: bytes | str, url: str) -> ColumnFeed:
    """A column feed; ValueError when the body is no such JSON object."""
    doc = json.loads(body)
    if not isinstance(doc, dict):
        raise ValueError("a column feed is a JSON object")
    urls: list[str] = []
    dates: list[date] = []
    for entry in doc.get("articles") or []:
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("url"), str):
            urls.append(urljoin(url, entry["url"]))
        dates += _dates(str(entry.get("created_at") or ""))
    children = []
    for child in doc.get("children") or []:
        if isinstance(child, int) and not isinstance(child, bool):
            children.append(FeedChild(child, "", None))
        elif isinstance(child, dict):
            cid = child.get("id")
            link = child.get("url") or child.get("path")
            children.append(
                FeedChild(
                    int(cid) if isinstance(cid, int | str) and str(cid).isdigit() else None,
                    str(child.get("name") or ""),
                    urljoin(url, link) if isinstance(link, str) else None,
                )
            )
    return ColumnFeed(
        name=str(doc.get("name") or ""),
        article_urls=tuple(urls),
        newest=max(dates, default=None),
        children=tuple(children),
    )
