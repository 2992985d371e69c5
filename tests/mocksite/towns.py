"""Three more towns on the mirror, for `dgarchive towns discover` and `towns check`.

Static and deterministic; served by MockSite beside Houjie (server.py asks `page(path)`
first). Each town hides its news columns behind a different navigation markup:

| town | folder | home page | news columns |
|---|---|---|---|
| 道滘 daojiao | `/daojiao/` | top nav bar → 新闻中心 section page | `xwzx/zhxw/` 综合新闻 (3 pages), `xwzx/zjdt/` 镇街动态 (1 page, no bar) |
| 大朗 dalang | `/dalang/` | left menu, older template | `dlxw/dlyw/` 大朗要闻 (2 pages, JS page bar, feed 7001), `dlxw/spxw/` 视频新闻 (only in feed 7001's `children`: feed 7002) |
| 沙田 shatian | `/st/` (`/shatian/` is 404) | a headline block with a "更多>>" link | `xwzx/zhxw/` 综合新闻 (2 pages) |

Not news, and never to be configured: 道滘 `zwgk/tzgg/` (通知公告 under 政务公开, a list of
posts), 大朗 `bsfw/bszn/` (办事指南, a list of posts), the 办事服务 and section pages.
`/daojiao/xwzx/zwdt/` answers 301 to `zjdt/`; every guessed `xwzx/zhxw/` of dalang is 404.
`GUESSED_TOML` is a towns file with the wrong guesses; `EXPECTED` what discovery must find.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

CANONICAL = "https://www.dg.gov.cn/"
PER_PAGE = 5


@dataclass(frozen=True)
class Col:
    path: str  # under the site root, ends with "/"
    name: str
    parent: str  # the breadcrumb level above
    site: str
    count: int  # articles
    first_id: int
    newest: date
    older: bool = False  # the older template: list_div items, createPageHTML bar
    feed: int | None = None  # referenced from the list page
    news: bool = True

    def ids(self) -> list[int]:
        return [self.first_id - i for i in range(self.count)]

    def published(self, i: int) -> datetime:
        day = self.newest - timedelta(days=3 * i)
        return datetime(day.year, day.month, day.day, 9, 30 + i % 20)

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // PER_PAGE))

    def article_urls(self) -> list[str]:
        return [f"{CANONICAL}{self.path}content/post_{aid}.html" for aid in self.ids()]


DAOJIAO, DALANG, SHATIAN = "中国东莞道滘镇", "中国东莞大朗镇", "中国东莞沙田镇"
COLS = (
    Col("daojiao/xwzx/zhxw/", "综合新闻", "新闻中心", DAOJIAO, 12, 4601012, date(2026, 10, 28)),
    Col("daojiao/xwzx/zjdt/", "镇街动态", "新闻中心", DAOJIAO, 4, 4602004, date(2026, 10, 20)),
    Col("daojiao/zwgk/tzgg/", "通知公告", "政务公开", DAOJIAO, 3, 4603003, date(2026, 9, 1), news=False),
    Col("dalang/dlxw/dlyw/", "大朗要闻", "大朗新闻", DALANG, 7, 4611007, date(2026, 10, 25), older=True, feed=7001),
    Col("dalang/dlxw/spxw/", "视频新闻", "大朗新闻", DALANG, 3, 4612003, date(2026, 10, 15), older=True, feed=7002),
    Col("dalang/bsfw/bszn/", "办事指南", "办事服务", DALANG, 2, 4613002, date(2026, 8, 1), older=True, news=False),
    Col("st/xwzx/zhxw/", "综合新闻", "新闻中心", SHATIAN, 6, 4621006, date(2026, 10, 30)),
)  # fmt: skip
BY_PATH = {c.path: c for c in COLS}
FEEDS = {7001: "dalang/dlxw/dlyw/", 7002: "dalang/dlxw/spxw/"}
FEED_CHILDREN = {7001: [{"id": 7002, "name": "视频新闻"}], 7002: []}
MOVED = {"/daojiao/xwzx/zwdt/": "/daojiao/xwzx/zjdt/"}

# What `towns discover` must find: town -> {column path: (name, feed, pages, newest)}.
EXPECTED = {
    town: {c.path: (c.name, c.feed, c.pages, c.newest) for c in COLS if c.news and c.site == site}
    for town, site in (("daojiao", DAOJIAO), ("dalang", DALANG), ("shatian", SHATIAN))
}
NOT_NEWS = tuple(c.path for c in COLS if not c.news)

GUESSED_TOML = """\
# A towns file as written before the first live run: every path a guess.

[[town]]
slug = "daojiao"
name = "道滘"
site = "中国东莞道滘镇"
verified = false
columns = [
  { path = "daojiao/xwzx/zhxw/", name = "综合新闻", verified = false },
  { path = "daojiao/xwzx/zwdt/", name = "政务动态", verified = false },  # an old bookmark
  { path = "daojiao/bsfw/", name = "办事服务", verified = false },
]

[[town]]
slug = "dalang"
name = "大朗"
site = "中国东莞大朗镇"
verified = false  # the folder is certain, the column is not
columns = [{ path = "dalang/xwzx/zhxw/", name = "综合新闻", verified = false }]

[[town]]
slug = "shatian"
name = "沙田"
site = "中国东莞沙田镇"
verified = false
alternatives = ["st"]  # the short folder seen in links
columns = [{ path = "shatian/xwzx/zhxw/", name = "综合新闻", verified = false }]
"""


@dataclass
class Page:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    html: bool = True


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def _doc(title: str, body: str, head: str = "") -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n{head}</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


# -- navigation: one markup per town --------------------------------------------------------


def _daojiao_nav() -> str:
    items = [("daojiao/", "首页"), ("daojiao/xwzx/", "新闻中心"), ("daojiao/zwgk/", "政务公开"),
             ("daojiao/bsfw/", "办事服务"), ("daojiao/zjdj/", "走进道滘")]  # fmt: skip
    links = "".join(f'<li><a href="{CANONICAL}{p}">{n}</a></li>' for p, n in items)
    return f'<div class="nav"><ul class="w1200">{links}</ul></div>'


def _dalang_menu() -> str:
    items = [("dlxw/dlyw/", "大朗要闻"), ("bsfw/bszn/", "办事指南"), ("zjdl/", "走进大朗")]
    links = "".join(f'<li><a href="/dalang/{p}">{n}</a></li>' for p, n in items)
    return f'<div class="con-left"><div class="left-title">栏目导航</div><ul>{links}</ul></div>'


def _crumb(col: Col, label: str = "当前位置：") -> str:
    home = CANONICAL + col.path.split("/", 1)[0] + "/"
    parent = CANONICAL + col.path.rsplit("/", 2)[0] + "/"
    return (
        f'<div class="position">{label}<a href="{home}">首页</a> &gt; '
        f'<a href="{parent}">{col.parent}</a> &gt; <a href="{CANONICAL}{col.path}">{col.name}</a></div>'
    )


def home(folder: str) -> str:
    if folder == "daojiao":
        block = "".join(
            f'<li><a href="{u}">道滘要闻{i}</a></li>'
            for i, u in enumerate(BY_PATH["daojiao/xwzx/zhxw/"].article_urls()[:3])
        )
        return _doc(DAOJIAO, f'{_daojiao_nav()}<div class="banner"><ul>{block}</ul></div>')
    if folder == "dalang":
        return _doc(
            DALANG, f'<div class="cen-div-1">{_dalang_menu()}<div class="welcome">欢迎</div></div>'
        )
    # 沙田: no menu at all; the news block's "more" link is the way in.
    col = BY_PATH["st/xwzx/zhxw/"]
    heads = "".join(
        f'<li><a href="{u}">沙田新闻{i}</a><span>{col.published(i):%Y-%m-%d}</span></li>'
        for i, u in enumerate(col.article_urls()[:4])
    )
    return _doc(
        SHATIAN,
        f'<div class="index-news"><div class="hd"><h3>综合新闻</h3>'
        f'<a class="more" href="/st/xwzx/zhxw/">更多&gt;&gt;</a></div><ul>{heads}</ul></div>'
        f'<div class="ft"><a href="/st/bsfw/">办事服务</a></div>',
    )


def section(folder: str, path: str) -> str | None:
    """The section pages between a home page and its columns (no list items)."""
    pages = {
        "daojiao/xwzx/": ("新闻中心", ["daojiao/xwzx/zhxw/", "daojiao/xwzx/zjdt/"]),
        "daojiao/zwgk/": ("政务公开", ["daojiao/zwgk/tzgg/"]),
    }
    if path in pages:
        title, cols = pages[path]
        links = "".join(f'<li><a href="{CANONICAL}{p}">{BY_PATH[p].name}</a></li>' for p in cols)
        crumb = f'<div class="position">当前位置：<a href="{CANONICAL}{folder}/">首页</a> &gt; {title}</div>'
        return _doc(f"{title}_{DAOJIAO}", f'{_daojiao_nav()}{crumb}<ul class="sub">{links}</ul>')
    services = {"daojiao/bsfw/": DAOJIAO, "st/bsfw/": SHATIAN, "daojiao/zjdj/": DAOJIAO,
                "dalang/zjdl/": DALANG}  # fmt: skip
    if path in services:
        crumb = f'<div class="position">当前位置：<a href="/{folder}/">首页</a> &gt; 办事服务</div>'
        return _doc(
            f"办事服务_{services[path]}",
            f'{crumb}<div class="service"><a href="https://www.gdzwfw.gov.cn/">广东政务服务网</a></div>',
        )
    return None


# -- list pages and articles ----------------------------------------------------------------


def list_page(col: Col, page: int) -> str:
    ids = col.ids()[(page - 1) * PER_PAGE : page * PER_PAGE]
    first = (page - 1) * PER_PAGE
    feed = (
        f'<script>var columnFeed = "/postmeta/i/{col.feed}.json";</script>\n'
        if col.feed and col.feed in FEEDS and FEED_CHILDREN.get(col.feed)
        else ""
    )
    if col.older:
        rows = "".join(
            f'<div class="list_div"><a href="content/post_{aid}.html">{esc(col.name)}{aid}</a>'
            f'<span class="list_time">{col.published(first + i):%Y-%m-%d}</span></div>\n'
            for i, aid in enumerate(ids)
        )
        bar = (
            f"<div id=\"page_div\"></div><script>createPageHTML('page_div', {col.pages}, {page}, "
            f"'index', 'html', {col.count});</script>"
        )
        body = (
            f'<div class="cen-div-1">{_dalang_menu()}<div class="con-right">'
            f'<div class="con-right-title"><span>{esc(col.name)}</span>{_crumb(col, "您现在的位置：")}</div>'
            f"{rows}{bar}</div></div>"
        )
        return _doc(f"{col.parent}_{col.name}_{col.site}", body, feed)
    rows = "".join(
        f'<div class="list-right_title fon_1"><a href="{CANONICAL}{col.path}content/post_{aid}.html"'
        f' target="_blank">{esc(col.name)}{aid}</a><span>{col.published(first + i):%Y-%m-%d}</span></div>\n'
        for i, aid in enumerate(ids)
    )
    bar = _page_bar(page, col.pages) if col.pages > 1 else ""
    nav = _daojiao_nav() if col.path.startswith("daojiao/") else ""
    body = (
        f'{nav}<div class="w1200 main">{_crumb(col)}<div class="list-right">'
        f'<div class="list-right_tit"><span>{esc(col.name)}</span></div>{rows}{bar}</div></div>'
    )
    return _doc(f"{col.parent}_{col.name}_{col.site}", body, feed)


def _page_bar(page: int, pages: int) -> str:
    def name(n: int) -> str:
        return "index.html" if n == 1 else f"index_{n}.html"

    parts = [f"<span>共{pages}页</span>"]
    if page > 1:
        parts += [f'<a href="{name(1)}">首页</a>', f'<a href="{name(page - 1)}">上一页</a>']
    parts += [str(n) if n == page else f'<a href="{name(n)}">{n}</a>' for n in range(1, pages + 1)]
    if page < pages:
        parts += [f'<a href="{name(page + 1)}">下一页</a>', f'<a href="{name(pages)}">尾页</a>']
    return '<div class="page">' + " ".join(parts) + "</div>"


def article(col: Col, aid: int) -> str:
    i = col.ids().index(aid)
    when = col.published(i)
    title = f"{col.name}{aid}：{col.site[4:]}推进城市更新项目建设"
    paras = "".join(
        f"<p>\u3000\u3000{esc(col.site[4:])}第{n}段：今年以来，镇里围绕高质量发展，"
        f"扎实推进城市更新、产业升级和民生实事，编号{aid}的报道记录了这一进展。</p>"
        for n in range(1, 5)
    )
    meta = (
        f'<meta name="SiteName" content="{col.site}">\n<meta name="SiteDomain" content="www.dg.gov.cn">\n'
        f'<meta name="ColumnName" content="{col.name}">\n<meta name="ArticleTitle" content="{esc(title)}">\n'
        f'<meta name="PubDate" content="{when:%Y-%m-%d %H:%M}">\n<meta name="ContentSource" content="本网">\n'
    )
    body = (
        f'{_crumb(col)}<div class="article"><div class="con_title"><ucaptitle>{esc(title)}</ucaptitle></div>'
        f'<div class="con_info"><span>中国东莞政府门户网站</span>&nbsp;&nbsp;<span>{when:%Y-%m-%d %H:%M:%S}</span>'
        f'&nbsp;&nbsp;<span>来源: 本网</span></div><div class="con_cen" id="zoom"><ucapcontent>'
        f'<div wzades="正文">{paras}</div></ucapcontent></div></div>'
    )
    return _doc(f"{col.parent}_{col.name}_{col.site}", body, meta)


def feed(fid: int) -> str:
    col = BY_PATH[FEEDS[fid]]
    doc = {
        "name": col.name,
        "updated": f"{col.published(0):%Y-%m-%d %H:%M:%S}",
        "articles": [
            {
                "id": aid,
                "title": f"{col.name}{aid}",
                "url": url,
                "created_at": f"{col.published(i):%Y-%m-%d %H:%M:%S}",
            }
            for i, (aid, url) in enumerate(zip(col.ids(), col.article_urls(), strict=True))
        ],  # fmt: skip
        "children": FEED_CHILDREN[fid],
    }
    return json.dumps(doc, ensure_ascii=False)


# -- routing --------------------------------------------------------------------------------

FOLDERS = ("daojiao", "dalang", "st")


def page(path: str) -> Page | None:
    """The mirror's answer for `path` when it is one of these towns' (None otherwise)."""
    if path.startswith("/postmeta/i/"):
        fid = path.removeprefix("/postmeta/i/").removesuffix(".json")
        if fid.isdigit() and int(fid) in FEEDS:
            return Page(200, feed(int(fid)).encode(), "application/json; charset=utf-8", html=False)
        return None
    folder = path.strip("/").split("/", 1)[0]
    if folder not in FOLDERS:
        return None
    if path in MOVED:
        return Page(301, b"", headers=[("Location", MOVED[path])])
    rel = path.lstrip("/")
    if rel in (f"{folder}/", f"{folder}/index.html"):
        return _ok(home(folder))
    folder_path, _, leaf = rel.rpartition("/")
    folder_path += "/"
    if (text := section(folder, rel)) is not None:
        return _ok(text)
    if "/content/post_" in rel:
        col = BY_PATH.get(rel.split("content/", 1)[0])
        aid = leaf.removeprefix("post_").removesuffix(".html")
        if col is not None and aid.isdigit() and int(aid) in col.ids():
            return _ok(article(col, int(aid)))
        return _missing()
    col = BY_PATH.get(folder_path)
    m = re.fullmatch(r"index_([2-9]|[1-9]\d+)\.html", leaf)
    n = 1 if leaf in ("", "index.html") else int(m.group(1)) if m else 0
    if col is not None and 1 <= n <= col.pages:
        return _ok(list_page(col, n))
    return _missing()


def _ok(text: str) -> Page:
    return Page(200, text.encode("utf-8"))


def _missing() -> Page:
    return Page(404, _doc("404", "<h1>404 页面不存在</h1>").encode("utf-8"))
