"""`ArticlePage`: one article page to its contract record. Pure: URL and body in, dict out.

One lxml parse per page; boilerplate goes by element first (toolbar links, hidden and
off-screen elements, navigation, footer) and then by text (`boilerplate.clean_line`), so saved
DOMs and text captures come out the same as server HTML. Works on the current template (meta
tags, `<ucaptitle>`, `<publishtime>`, `wzades="正文"`), older ones (no meta tags, `<br>` runs,
byline read from text) and plain text captures of a page (no markup at all).

Raises `UnreadablePage` (a ValueError) for an empty or binary body, and nothing else: a page
whose body cannot be found is a record with `text` "" and a `body_not_found` anomaly.
`ArticlePage.refusal()` says why a page is not a complete, plausible article (an error or
maintenance template, a frameset, no `<body>`, not HTML, no body text, no title, markup too
deep to parse whole): the crawl and `reindex` store no record for such a page.
"""

from __future__ import annotations

import operator
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

from lxml import etree

from pipelines.pages import selectors as sel
from pipelines.pages.boilerplate import (
    BREADCRUMB_RE,
    PAGE_TIP_TITLE_RE,
    PROMPT_RE,
    clean_line,
    either_script,
    is_footer_line,
    remove_furniture,
    remove_hidden,
    remove_never_text,
    remove_toolbar,
    strip_byline_furniture,
)
from pipelines.pages.encoding import UnreadablePage, decode_body
from pipelines.pages.errorpages import match_error_page, mentions_error_phrase
from pipelines.pages.interview import parse_interview
from pipelines.text import normalize_space, to_simplified

__all__ = ["ArticlePage", "UnreadablePage", "parse_datetime", "detect_script"]

_C = r"\s*[:：]\s*"
DATE_RE = re.compile(
    r"(?P<y>(?:19|20)\d\d)\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*(?P<H>\d{1,2})\s*[:：时時]\s*(?P<M>\d{1,2})(?:\s*[:：分]\s*(?P<S>\d{1,2}))?)?"
)
_BYLINE_WORDS_RE = re.compile(
    "|".join(
        either_script(w)
        for w in ("来源", "发布", "日期", "时间", "门户网站", "作者", "浏览", "点击", "编辑")
    )
)
SOURCE_RE = re.compile(
    rf"(?:{either_script('来源')}|{either_script('信息来源')}){_C}(?P<source>[^\s\[【|｜]+)"
)
_BYLINE_MAX = 200
HTML_RE = re.compile(
    r"<(?:!doctype|html|head|body|meta|title|div|p|br|span|a|table|ucapcontent)[\s>/]",
    re.IGNORECASE,
)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_TITLE_SPLIT_RE = re.compile(r"\s*[_|｜]\s*|\s+-\s+")
_SITE_HINT_RE = re.compile(r"东莞|東莞|政府|门户|門戶|镇|鎮|街道")
_CRUMB_SPLIT_RE = re.compile(r"\s*[>＞»›/]\s*")
_CRUMB_SKIP = frozenset({"首页", "首頁", "正文", "详情", "詳情", "内容", "內容", "文章", ""})
_IMAGE_NAME_RE = re.compile(r"^\S+\.(?:jpe?g|png|gif|bmp|webp)$", re.IGNORECASE)
_BODY_MARK = "\x00body"
_HEADER_LEVELS = 3  # ancestors of the body searched for title and byline before the page
_MIN_BODY_CHARS = 20  # a fallback container with less text than this is not a body
_SCRIPT_SAMPLE = 240  # characters of title + text checked for script: ~60 differ if hant
_HANT_SHARE = 0.05  # share of Han characters OpenCC t2s changes above which a page is hant
_BODY_TAG_RE = re.compile(r"<body[\s>/]", re.IGNORECASE)
_FRAMESET_RE = re.compile(r"<frameset[\s>/]", re.IGNORECASE)
# libxml2 stops building the tree past its depth limit (256, or 2048 with huge_tree) and
# drops the rest of the page without raising: the error log is the only sign.
_DEPTH_ERROR = "Excessive depth"
_WEB_SCHEMES = ("http://", "https://")


@dataclass
class _Fields:
    site: str | None = None
    column: str | None = None
    title: str | None = None
    published_at: str | None = None
    source: str | None = None
    lines: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    body_found: bool = False
    invalid_dates: list[str] = field(default_factory=list)


class ArticlePage:
    """The record of one article page (the contract's fields, without `capture`).

    `body` is bytes as received (decoded by `encoding`, the HTTP header's charset, if given)
    or text; `url` is the canonical URL, kept as given and used to resolve image links.
    """

    def __init__(self, body: bytes | str, url: str, *, encoding: str | None = None):
        self.url = url
        decoded = decode_body(body, encoding)
        self.anomalies: list[dict] = list(decoded.anomalies)
        text = decoded.text
        self.error_template = None  # an `errorpages.ErrorTemplate` the page is an instance of
        self.too_deep = False  # the parser gave up on the markup's depth: text may be lost
        self.is_html = bool(HTML_RE.search(text, 0, 65536))
        self.has_body_tag = self.is_html and bool(_BODY_TAG_RE.search(text))
        self.is_frameset = self.is_html and bool(_FRAMESET_RE.search(text, 0, 65536))
        if self.is_html:
            self.fields = self._from_html(text)
        else:
            self.fields = self._from_text(text)

    def refusal(self) -> str | None:
        """Why this page is not a complete, plausible article; None when it is one.

        The crawl (and `reindex`, from the same WARC bytes) stores no record for a refused
        page: it is archived and reported, and the next incremental run fetches it again.
        """
        f = self.fields
        if self.error_template is not None:
            return f"not an article: {self.error_template.reason}"
        if not self.is_html:
            return "not an article: not an HTML page (plain text)"
        if self.is_frameset:
            return "not an article: a frameset page, no article body"
        if not self.has_body_tag:
            return "not an article: no <body> in the page"
        if self.too_deep:
            return "markup nested deeper than the parser's limit: the text would be cut"
        if not f.body_found:
            return "not an article: no article body found"
        if not f.title:
            return "not an article: no title found"
        return None

    # --- record -------------------------------------------------------------------------
    def to_record(self) -> dict:
        f = self.fields
        text = "\n".join(f.lines)
        anomalies = list(self.anomalies)
        if not f.body_found:
            anomalies.append(
                {"kind": "body_not_found", "detail": "no article body container or paragraphs"}
            )
        if not f.title:
            anomalies.append({"kind": "title_not_found", "detail": "no meta, ucaptitle or heading"})
        for bad in f.invalid_dates:
            anomalies.append({"kind": "invalid_date", "detail": f"not a calendar date: {bad}"})
        if not f.published_at and not f.invalid_dates:
            anomalies.append(
                {"kind": "date_not_found", "detail": "no PubDate, publishtime or byline"}
            )
        return {
            "url": self.url,
            "site": f.site,
            "column": f.column,
            "title": f.title,
            "published_at": f.published_at,
            "source": f.source,
            "script": detect_script(f"{f.title or ''}\n{text[:_SCRIPT_SAMPLE]}"),
            "text": text,
            "images": f.images,
            "interview": parse_interview(f.lines) if f.body_found else None,
            "anomalies": anomalies,
        }

    # --- HTML ---------------------------------------------------------------------------
    def _from_html(self, html: str) -> _Fields:
        f = _Fields()
        parser = _parser()
        try:
            root = etree.fromstring(_XML_DECL_RE.sub("", html, count=1), parser)
        except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
            root = None
            problem = str(exc)[:200]
        else:
            problem = "document is empty"
        for entry in parser.error_log:
            if _DEPTH_ERROR in entry.message:
                self.too_deep = True
                self.anomalies.append(
                    {"kind": "markup_too_deep", "detail": f"line {entry.line}: {entry.message}"}
                )
                break
        if root is None:
            self.anomalies.append({"kind": "unparsable_html", "detail": problem})
            return f
        if "</html" not in html[-4096:].lower():
            self.anomalies.append(
                {"kind": "truncated", "detail": "no </html>: capture may be cut short"}
            )

        if mentions_error_phrase(html):
            self.error_template = match_error_page(root)
            if self.error_template is not None:
                self.anomalies.append({"kind": "error_page", "detail": self.error_template.reason})
        marks = sel.scan(root)
        meta = {k: normalize_space(v) for k, v in marks.meta.items()}
        page_title = normalize_space(_text(marks.page_title[0])) if marks.page_title else ""

        remove_never_text(root, marks.never_text)
        remove_toolbar(root, marks.toolbar)
        self.anomalies.extend(remove_hidden(root, self.url, marks.styled))
        body = _known_body(root, marks.body)
        f.site = meta.get(sel.META_SITE) or _site_from_title(page_title)
        # The breadcrumb is read before furniture removal takes it away.
        f.column = (
            meta.get(sel.META_COLUMN) or _column_from_title(page_title) or _breadcrumb_column(root)
        )
        remove_furniture(root, keep=body, found=marks.furniture)
        if body is None:
            body = _densest_body(root)

        header = _header_lines(root, body)
        body_lines = _text_lines(body) if body is not None else []
        body_lines = [x for x in (clean_line(b) for b in body_lines) if x]

        byline_i = _find_byline(header)
        byline = strip_byline_furniture(header[byline_i]) if byline_i is not None else ""
        title_line = None
        if byline_i is None:
            # Older templates put title and byline inside the body container.
            k = _find_byline(body_lines[:4])
            if k is not None:
                byline = strip_byline_furniture(body_lines[k])
                title_line = body_lines[k - 1] if k > 0 else None
                body_lines = body_lines[k + 1 :]
        elif byline_i > 0:
            title_line = _line_before(header, byline_i, {f.site, f.column, page_title})

        ucap = marks.ucap_title
        f.title = (
            meta.get(sel.META_TITLE)
            or (normalize_space(_text(ucap[0])) if ucap else "")
            or title_line
            or _heading_title(root, body, {f.site, f.column, page_title})
            or None
        )
        pub = marks.publishtime
        date_texts = (meta.get(sel.META_DATE, ""), _text(pub[0]) if pub else "", byline)
        f.published_at = _best_datetime(*date_texts)
        f.invalid_dates = impossible_dates(*date_texts)
        sm = SOURCE_RE.search(byline)
        f.source = meta.get(sel.META_SOURCE) or (sm.group("source") if sm else None)

        if f.title and body_lines and body_lines[0] == f.title:
            body_lines = body_lines[1:]
        f.lines = body_lines
        f.body_found = body is not None and bool(body_lines)
        if not f.column and f.body_found:
            # A two-part <title> ("图说厚街_中国东莞厚街镇") names the column on an article
            # page; on anything else (an error page) it names the page.
            f.column = _column_from_title(page_title, short=True)
        if body is not None:
            f.images = _images(body, self.url)
        return f

    # --- text capture -------------------------------------------------------------------
    def _from_text(self, text: str) -> _Fields:
        """A page saved as text (like the seed captures): regions from the toolbar's prompts."""
        f = _Fields()
        raw = [normalize_space(x) for x in text.split("\n")]
        page_title = ""
        for line in raw[:20]:
            m = PAGE_TIP_TITLE_RE.search(line)
            if m:
                page_title = m.group("title")
                break
        f.site = _site_from_title(page_title)
        f.column = _column_from_title(page_title)

        regions = _regions(raw)
        byline_i = _find_byline(raw)
        if byline_i is not None:
            byline = strip_byline_furniture(raw[byline_i])
            f.published_at = parse_datetime(byline)
            f.invalid_dates = impossible_dates(byline)
            sm = SOURCE_RE.search(byline)
            f.source = sm.group("source") if sm else None
            if byline_i > 0:
                f.title = _line_before(raw, byline_i, {f.site, f.column, page_title})

        if regions:
            start, end = max(regions, key=lambda r: _content_size(raw[r[0] : r[1]]))
        else:
            start = byline_i + 1 if byline_i is not None else 0
            end = next((i for i in range(start, len(raw)) if is_footer_line(raw[i])), len(raw))
        lines = []
        for line in raw[start:end]:
            cleaned = clean_line(line)
            if cleaned and not _IMAGE_NAME_RE.match(cleaned) and cleaned != f.title:
                lines.append(cleaned)
        for line in raw[end:]:
            cleaned = clean_line(line)
            if cleaned:
                self.anomalies.append({"kind": "stray_text", "detail": cleaned[:200]})
        f.lines = lines
        f.body_found = bool(lines)
        return f


# --- helpers ------------------------------------------------------------------------------
_local = threading.local()


def _parser() -> etree.HTMLParser:
    """One HTML parser per thread (lxml parsers are not shared across threads).

    Plain lxml.etree elements, not lxml.html's: the per-element class lookup of lxml.html
    costs more than the parse on these pages. Comments and processing instructions are
    dropped at parse time; their text is never page text.
    """
    parser = getattr(_local, "parser", None)
    if parser is None:
        # huge_tree: libxml2's default depth limit (256) silently cut a page of unclosed
        # <font> tags at its 126th paragraph; with it the limit is 2048, and deeper markup
        # is reported (`markup_too_deep`) rather than cut unseen. Input size is bounded by
        # the crawl's DOWNLOAD_MAXSIZE, which huge_tree's other limits also guarded.
        parser = _local.parser = etree.HTMLParser(
            remove_comments=True,
            remove_pis=True,
            no_network=True,
            collect_ids=False,
            huge_tree=True,
        )
    return parser


def _text(el) -> str:
    return "".join(el.itertext())


def _text_lines(root, skip=None) -> list[str]:
    """The text of `root`, a line per block element or <br>; `skip`'s subtree becomes a mark."""
    lines: list[str] = []
    buf: list[str] = []
    blocks = sel.BLOCK_TAGS
    stack = [(root, False)]
    while stack:
        el, closing = stack.pop()
        tag = el.tag
        if closing:
            if tag in blocks and buf:
                lines.append("".join(buf))
                buf.clear()
            if el.tail and el is not root:
                buf.append(el.tail)
            continue
        if not isinstance(tag, str):  # comment or processing instruction: only its tail
            if el.tail and el is not root:
                buf.append(el.tail)
            continue
        if el is skip:
            if buf:
                lines.append("".join(buf))
                buf.clear()
            lines.append(_BODY_MARK)
            if el.tail:
                buf.append(el.tail)
            continue
        if tag in blocks and buf:
            lines.append("".join(buf))
            buf.clear()
        if el.text:
            buf.append(el.text)
        stack.append((el, True))
        stack.extend((child, False) for child in reversed(el))
    if buf:
        lines.append("".join(buf))
    return lines


def _header_lines(root, body) -> list[str]:
    """Non-empty text lines before the body, from its nearest ancestor holding a byline.

    Title and byline sit beside the body in every template seen, so the walk starts at the
    body's parent and widens a few levels before falling back to the whole page: walking
    navigation and footer on every page would cost more than the rest of the extraction.
    """
    if body is None:
        return [x for x in map(normalize_space, _text_lines(root)) if x]
    header: list[str] = []
    el = body
    for _ in range(_HEADER_LEVELS):
        parent = el.getparent()
        if parent is None:
            return header
        lines = [normalize_space(x) for x in _text_lines(parent, skip=body)]
        header = [x for x in lines[: lines.index(_BODY_MARK)] if x]
        if _find_byline(header) is not None:
            return header
        el = parent
    if el is root:
        return header
    lines = [normalize_space(x) for x in _text_lines(root, skip=body)]
    return [x for x in lines[: lines.index(_BODY_MARK)] if x]


def _known_body(root, candidates: list) -> object | None:
    """The highest-priority body candidate still in the tree (first in document order)."""
    best = None
    for priority, el in candidates:
        if best is not None and priority >= best[0]:
            continue
        if _attached(el, root):
            best = (priority, el)
    return best[1] if best else None


def _attached(el, root) -> bool:
    """False for an element dropped with a hidden or furniture ancestor."""
    for a in el.iterancestors():
        if a is root:
            return True
    return el is root


def _densest_body(root):
    """Drifted template: the element holding the most paragraph text (furniture gone)."""
    scores: dict = {}
    for p in root.iter("p"):
        parent = p.getparent()
        if parent is not None:
            scores[parent] = scores.get(parent, 0) + len(_text(p).strip())
    for br in root.iter("br"):
        parent = br.getparent()
        if parent is not None and br.tail:
            scores[parent] = scores.get(parent, 0) + len(br.tail.strip())
    if not scores:
        return None
    best, score = max(scores.items(), key=lambda kv: kv[1])
    return best if score >= _MIN_BODY_CHARS else None


def _find_byline(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if len(line) <= _BYLINE_MAX and DATE_RE.search(line) and _BYLINE_WORDS_RE.search(line):
            return i
    return None


def _line_before(lines: list[str], index: int, exclude: set) -> str | None:
    for line in reversed(lines[max(0, index - 6) : index]):
        if PROMPT_RE.fullmatch(line.strip()):
            continue
        cleaned = clean_line(line)
        if cleaned and cleaned not in exclude:
            return cleaned
    return None


def _heading_title(root, body, exclude: set) -> str | None:
    """The last h1-h3 before the body (any when there is no body) that is not site furniture."""
    heads = []
    for el in root.iter():
        if el is body:
            break
        if el.tag in sel.HEADING_TAGS:
            heads.append(el)
    for h in reversed(heads):
        text = clean_line(_text(h))
        if len(text) >= 4 and text not in exclude:
            return text
    return None


def _title_segments(page_title: str) -> list[str]:
    return [s for s in _TITLE_SPLIT_RE.split(page_title) if s] if page_title else []


def _site_from_title(page_title: str) -> str | None:
    """`城镇建设_图说厚街_中国东莞厚街镇` -> `中国东莞厚街镇` (the last segment names the site)."""
    segs = _title_segments(page_title)
    if segs and _SITE_HINT_RE.search(segs[-1]):
        return segs[-1]
    return None


def _column_from_title(page_title: str, short: bool = False) -> str | None:
    """The segment before the site in `城镇建设_图说厚街_中国东莞厚街镇`.

    A two-part title counts only with `short`: the caller knows the page is an article.
    """
    segs = _title_segments(page_title)
    if len(segs) >= (2 if short else 3) and _SITE_HINT_RE.search(segs[-1]):
        return segs[-2]
    return None


def _breadcrumb_column(root) -> str | None:
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
        text = normalize_space(_text(holder))
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


def _images(body, page_url: str) -> list[dict]:
    out, seen = [], set()
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


def _regions(raw: list[str]) -> list[tuple[int, int]]:
    """(start, end) line spans between the toolbar's "entered region" prompts."""
    starts = [i for i, line in enumerate(raw) if _ENTER_RE.search(line)]
    spans = []
    for n, s in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(raw)
        for j in range(s + 1, end):
            if _LEAVE_RE.search(raw[j]):
                end = j
                break
        spans.append((s + 1, end))
    return spans


_ENTER_RE = re.compile(rf"{either_script('您已进入')}")
_LEAVE_RE = re.compile(rf"{either_script('您已离开')}")


def _content_size(lines: list[str]) -> int:
    return sum(len(clean_line(x)) for x in lines)


def _best_datetime(*texts: str) -> str | None:
    """The first date found, with seconds taken from a later source naming the same minute.

    PubDate meta tags stop at minutes while `<publishtime>` or the byline often carry
    seconds; the more precise reading of the same instant wins.
    """
    found = [d for d in map(parse_datetime, texts) if d]
    if not found:
        return None
    best = found[0]
    for other in found[1:]:
        if other[:16] == best[:16] and best[17:19] == "00":
            return other
    return best


def parse_datetime(text: str | None) -> str | None:
    """`2023-02-27 10:14` -> `2023-02-27T10:14:00+08:00` (China time); None when no date."""
    if not text:
        return None
    m = DATE_RE.search(text)
    if not m:
        return None
    return _valid(m)


def _valid(m: re.Match) -> str | None:
    y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
    hh, mm, ss = int(m["H"] or 0), int(m["M"] or 0), int(m["S"] or 0)
    try:
        # The calendar decides: 2023-02-30 or 2023-04-31 match the pattern but are no date.
        datetime(y, mo, d, hh, mm, ss)
    except ValueError:
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}+08:00"


def impossible_dates(*texts: str) -> list[str]:
    """The date-shaped strings in `texts` that are not calendar dates (`2023-02-30 10:14`)."""
    out = []
    for text in texts:
        m = DATE_RE.search(text) if text else None
        if m and _valid(m) is None and m.group(0).strip() not in out:
            out.append(m.group(0).strip())
    return out


def detect_script(text: str) -> str:
    """`hant` when OpenCC's traditional-to-simplified conversion changes many characters.

    Simplified text comes back unchanged (the common case, settled by one comparison);
    traditional text changes in a quarter or more of its characters.
    """
    sample = text[:_SCRIPT_SAMPLE]
    if sample.isascii():
        return "hans"
    converted = to_simplified(sample)
    if converted == sample:
        return "hans"
    changed = sum(map(operator.ne, sample, converted))
    # Non-ASCII characters, from the UTF-8 length: CJK take 3 bytes, ASCII 1 (C speed).
    wide = (len(sample.encode("utf-8")) - len(sample)) // 2
    return "hant" if changed >= 2 and changed >= wide * _HANT_SHARE else "hans"
