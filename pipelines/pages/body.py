"""The article body of a parsed page, the lines above it, and its images. Pure: tree in.

The body is the template's own container when one is known (`selectors.scan`), else the
element holding the most paragraph text. Title and byline are read from the lines before it.
"""

from __future__ import annotations

from urllib.parse import urljoin

from lxml import etree

from pipelines.pages.byline import find_byline
from pipelines.pages.htmltree import BODY_MARK, text_lines, text_of
from pipelines.records import Image
from pipelines.text import normalize_space

__all__ = ["densest_body", "header_lines", "images", "known_body"]

_HEADER_LEVELS = 3  # ancestors of the body searched for title and byline before the page
_MIN_BODY_CHARS = 20  # a fallback container with less text than this is not a body
_WEB_SCHEMES = ("http://", "https://")


def header_lines(root: etree._Element, body: etree._Element | None) -> list[str]:
    """Non-empty text lines before the body, from its nearest ancestor holding a byline.

    Title and byline sit beside the body in every template seen, so the walk starts at the
    body's parent and widens a few levels before falling back to the whole page: walking
    navigation and footer on every page would cost more than the rest of the extraction.
    """
    if body is None:
        return [x for x in map(normalize_space, text_lines(root)) if x]
    header: list[str] = []
    el = body
    for _ in range(_HEADER_LEVELS):
        parent = el.getparent()
        if parent is None:
            return header
        lines = [normalize_space(x) for x in text_lines(parent, skip=body)]
        header = [x for x in lines[: lines.index(BODY_MARK)] if x]
        if find_byline(header) is not None:
            return header
        el = parent
    if el is root:
        return header
    lines = [normalize_space(x) for x in text_lines(root, skip=body)]
    return [x for x in lines[: lines.index(BODY_MARK)] if x]


def known_body(root: etree._Element, candidates: list) -> etree._Element | None:
    """The highest-priority body candidate still in the tree (first in document order)."""
    best = None
    for priority, el in candidates:
        if best is not None and priority >= best[0]:
            continue
        if _attached(el, root):
            best = (priority, el)
    return best[1] if best else None


def _attached(el: etree._Element, root: etree._Element) -> bool:
    """False for an element dropped with a hidden or furniture ancestor."""
    for a in el.iterancestors():
        if a is root:
            return True
    return el is root


def densest_body(root: etree._Element) -> etree._Element | None:
    """Drifted template: the element holding the most paragraph text (furniture gone)."""
    scores: dict = {}
    for p in root.iter("p"):
        parent = p.getparent()
        if parent is not None:
            scores[parent] = scores.get(parent, 0) + len(text_of(p).strip())
    for br in root.iter("br"):
        parent = br.getparent()
        if parent is not None and br.tail:
            scores[parent] = scores.get(parent, 0) + len(br.tail.strip())
    if not scores:
        return None
    best, score = max(scores.items(), key=lambda kv: kv[1])
    return best if score >= _MIN_BODY_CHARS else None


def images(body: etree._Element, page_url: str) -> list[Image]:
    """The body's images as the record's `{"src", "alt"}`, absolute http(s) URLs, once each."""
    out: list[Image] = []
    seen: set[str] = set()
    for img in body.iter("img"):
        src = (img.get("src") or img.get("data-src") or img.get("original") or "").strip()
        if not src or src.startswith("data:"):
            continue
        src = urljoin(page_url, src)
        if not src.lower().startswith(_WEB_SCHEMES):
            continue  # file:, javascript:, about: ... name nothing the archive can fetch
        if src in seen:
            continue
        seen.add(src)
        alt = normalize_space(img.get("alt") or img.get("title") or "")
        out.append({"src": src, "alt": alt})
    return out
