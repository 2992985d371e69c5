"""Error and maintenance templates: pages served with 200 that are not the article. Pure.

A soft 404 ("您访问的页面不存在"), a maintenance notice ("系统维护中") or a server error page
served with status 200 parses like any page and would be stored as the article. Each
template here names the phrases that identify it and where they must stand: in the page's
`<title>` (its first segment, so an article *about* a maintenance is not one), in a
heading, or in an element whose class or id marks an error box. A page whose visible text is
short is matched on its whole text: a bare "系统维护中，请稍后访问" has no markup at all.

A page carrying an article's own markers (the `ArticleTitle` meta tag or `<ucaptitle>`) is
never an error page, whatever its text quotes.

`match_error_page(root)` takes a parsed lxml tree; `match_error_html(html)` parses text first
(for tests and for a file on disk).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree


@dataclass(frozen=True)
class ErrorTemplate:
    """One family of error pages. `phrases` identify it; `reason` is said in the report."""

    name: str
    reason: str
    phrases: tuple[str, ...]


# fmt: off
TEMPLATES: tuple[ErrorTemplate, ...] = (
    ErrorTemplate(
        "not_found",
        "a 'page not found' page (soft 404)",
        ("页面不存在", "頁面不存在", "页面已被删除", "頁面已被刪除", "找不到您访问的页面",
         "找不到該頁面", "找不到该页面", "信息不存在", "文章不存在", "404 not found",
         "page not found"),
    ),
    ErrorTemplate(
        "maintenance",
        "a maintenance page",
        ("系统维护中", "系統維護中", "系统升级维护", "系統升級維護", "网站维护中", "網站維護中",
         "正在维护", "正在維護", "暂停访问", "暫停訪問", "under maintenance"),
    ),
    ErrorTemplate(
        "server_error",
        "a server error page",
        ("服务器内部错误", "伺服器內部錯誤", "服务器繁忙", "伺服器繁忙", "internal server error",
         "service unavailable", "访问出错", "訪問出錯"),
    ),
)
# fmt: on

# Where a phrase identifies a page: element classes or ids of error boxes, and headings.
_ERROR_BOX_RE = re.compile(r"error|err_|404|500|notfound|not-found|weihu|maintain|msg", re.I)
_HEADINGS = frozenset(("h1", "h2", "h3"))
_TITLE_SPLIT_RE = re.compile(r"\s*[_|｜]\s*|\s+-\s+")
_SHORT_PAGE = 200  # characters of visible text under which the whole text is searched
_NEVER_TEXT = frozenset(("script", "style", "noscript", "template"))
_ALL_PHRASES = tuple(p for t in TEMPLATES for p in t.phrases)
# The gate `_mentions_any` runs on every page's whole HTML. Phrases without cased letters
# (the Chinese ones) are found in the text as it is, all at once by one alternation: a
# page holds one of them if and only if its lower-cased text does, and 26 substring scans
# of each page cost more than the rest of the error-page check. The others (English) are
# searched in the lower-cased text, as before.
_CASELESS = tuple(p for p in _ALL_PHRASES if p.lower() == p == p.upper())
_CASELESS_RE = re.compile("|".join(map(re.escape, _CASELESS)))
_CASED = tuple(p for p in _ALL_PHRASES if p not in _CASELESS)


def match_error_html(html: str) -> ErrorTemplate | None:
    """The template `html` is an instance of, or None."""
    if not _mentions_any(html):
        return None
    try:
        root = etree.fromstring(html, etree.HTMLParser(no_network=True, huge_tree=True))
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None
    return None if root is None else match_error_page(root)


def match_error_page(root: etree._Element) -> ErrorTemplate | None:
    """The template the parsed page `root` is an instance of, or None.

    Call it on the page as parsed, before boilerplate removal: error boxes may look like
    furniture.
    """
    joined = "".join(_visible_text(root))
    if not _mentions_any(joined) and not _mentions_any(_title_text(root)):
        return None
    for el in root.iter("meta"):
        if (el.get("name") or "").lower() == "articletitle" and (el.get("content") or "").strip():
            return None
    if next(root.iter("ucaptitle"), None) is not None:
        return None
    title = _title_text(root)
    if title:
        first = _TITLE_SPLIT_RE.split(title.strip(), maxsplit=1)[0]
        found = _template_in(first)
        if found:
            return found
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        marker = f"{el.get('class') or ''} {el.get('id') or ''}"
        if el.tag in _HEADINGS or (marker.strip() and _ERROR_BOX_RE.search(marker)):
            found = _template_in("".join(el.itertext()))
            if found:
                return found
    if len("".join(joined.split())) <= _SHORT_PAGE:
        return _template_in(joined)
    return None


def _template_in(text: str) -> ErrorTemplate | None:
    low = text.lower()
    for template in TEMPLATES:
        for phrase in template.phrases:
            if phrase in low:
                return template
    return None


def mentions_error_phrase(text: str) -> bool:
    """Whether `text` holds any template's phrase: a cheap gate before `match_error_page`."""
    return _mentions_any(text)


def _mentions_any(text: str) -> bool:
    if _CASELESS_RE.search(text):
        return True
    low = text.lower()
    return any(p in low for p in _CASED)


def _title_text(root: etree._Element) -> str:
    el = next(root.iter("title"), None)
    return "".join(el.itertext()) if el is not None else ""


def _visible_text(root: etree._Element) -> Iterator[str]:
    """The text of `body` (or the page) without scripts and styles."""
    body = next(root.iter("body"), None)
    start = body if body is not None else root
    for el in start.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag in _NEVER_TEXT or el.tag == "title":
            if el.tail:
                yield el.tail
            continue
        if el.text:
            yield el.text
        if el.tail and el is not start:
            yield el.tail
