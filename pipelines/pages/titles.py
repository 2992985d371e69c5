"""Title, site and column names of a page. Pure: <title>, breadcrumb, headings in, names out.

The site's `<title>` is `column_site` or `section_column_site`; the breadcrumb ends with the
column; the article's own title is the line before the byline or the last heading before
the body, never the `<title>`.
"""

from __future__ import annotations

import re

from lxml import etree

from pipelines.pages import selectors as sel
from pipelines.pages.boilerplate import BREADCRUMB_RE, PROMPT_RE, clean_line
from pipelines.pages.htmltree import text_of
from pipelines.text import normalize_space

__all__ = [
    "breadcrumb_column",
    "column_from_title",
    "heading_title",
    "line_before",
    "site_from_title",
]

_TITLE_SPLIT_RE = re.compile(r"\s*[_|｜]\s*|\s+-\s+")
_SITE_HINT_RE = re.compile(r"东莞|東莞|政府|门户|門戶|镇|鎮|街道")
_CRUMB_SPLIT_RE = re.compile(r"\s*[>＞»›/]\s*")
_CRUMB_SKIP = frozenset({"首页", "首頁", "正文", "详情", "詳情", "内容", "內容", "文章", ""})


def line_before(lines: list[str], index: int, exclude: set) -> str | None:
    """The nearest content line before `lines[index]` (the byline): the title, or None."""
    for line in reversed(lines[max(0, index - 6) : index]):
        if PROMPT_RE.fullmatch(line.strip()):
            continue
        cleaned = clean_line(line)
        if cleaned and cleaned not in exclude:
            return cleaned
    return None


def heading_title(root: etree._Element, body: etree._Element | None, exclude: set) -> str | None:
    """The last h1-h3 before the body (any when there is no body) that is not site furniture."""
    heads = []
    for el in root.iter():
        if el is body:
            break
        if el.tag in sel.HEADING_TAGS:
            heads.append(el)
    for h in reversed(heads):
        text = clean_line(text_of(h))
        if len(text) >= 4 and text not in exclude:
            return text
    return None


def _title_segments(page_title: str) -> list[str]:
    return [s for s in _TITLE_SPLIT_RE.split(page_title) if s] if page_title else []


def site_from_title(page_title: str) -> str | None:
    """`城镇建设_图说厚街_中国东莞厚街镇` -> `中国东莞厚街镇` (the last segment names the site)."""
    segs = _title_segments(page_title)
    if segs and _SITE_HINT_RE.search(segs[-1]):
        return segs[-1]
    return None


def column_from_title(page_title: str, short: bool = False) -> str | None:
    """The segment before the site in `城镇建设_图说厚街_中国东莞厚街镇`.

    A two-part title counts only with `short`: the caller knows the page is an article.
    """
    segs = _title_segments(page_title)
    if len(segs) >= (2 if short else 3) and _SITE_HINT_RE.search(segs[-1]):
        return segs[-2]
    return None


def breadcrumb_column(root: etree._Element) -> str | None:
    """The last named step of the breadcrumb (当前位置：首页 > 城镇建设 > 图说厚街)."""
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.text and _has_any(el.text, sel.BREADCRUMB_WORDS):
            holder = el
        elif el.tail and _has_any(el.tail, sel.BREADCRUMB_WORDS):
            holder = el.getparent()
        else:
            continue
        while holder is not None and holder.tag not in sel.BLOCK_TAGS:
            holder = holder.getparent()
        if holder is None:
            continue
        text = normalize_space(text_of(holder))
        m = BREADCRUMB_RE.match(text)
        if len(text) > 200 or not m:
            continue  # prose that happens to say 的位置
        text = text[m.end() :]
        parts = [p for p in _CRUMB_SPLIT_RE.split(text) if p not in _CRUMB_SKIP]
        if parts:
            return parts[-1]
    return None


def _has_any(text: str, words: tuple[str, ...]) -> bool:
    return any(w in text for w in words)
