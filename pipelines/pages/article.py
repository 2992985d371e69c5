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

import re
from dataclasses import dataclass, field

from lxml import etree

from pipelines.pages import selectors as sel
from pipelines.pages.body import densest_body, header_lines, images, known_body
from pipelines.pages.boilerplate import (
    PAGE_TIP_TITLE_RE,
    clean_line,
    either_script,
    is_footer_line,
    remove_furniture,
    remove_hidden,
    remove_never_text,
    remove_toolbar,
    strip_byline_furniture,
)
from pipelines.pages.byline import (
    SOURCE_RE,
    best_page_date,
    find_byline,
    impossible_dates,
    parse_page_date,
)
from pipelines.pages.encoding import UnreadablePage, decode_body
from pipelines.pages.errorpages import match_error_page, mentions_error_phrase
from pipelines.pages.htmltree import html_parser, text_lines, text_of
from pipelines.pages.interview import parse_interview
from pipelines.pages.requisites import tree_requisites
from pipelines.pages.titles import (
    breadcrumb_column,
    column_from_title,
    heading_title,
    line_before,
    site_from_title,
)
from pipelines.records import Anomaly, ArticleRecord, Image
from pipelines.text import SCRIPT_SAMPLE, detect_script, normalize_space

__all__ = ["ArticlePage", "UnreadablePage"]

HTML_RE = re.compile(
    r"<(?:!doctype|html|head|body|meta|title|div|p|br|span|a|table|ucapcontent)[\s>/]",
    re.IGNORECASE,
)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_IMAGE_NAME_RE = re.compile(r"^\S+\.(?:jpe?g|png|gif|bmp|webp)$", re.IGNORECASE)
_BODY_TAG_RE = re.compile(r"<body[\s>/]", re.IGNORECASE)
_FRAMESET_RE = re.compile(r"<frameset[\s>/]", re.IGNORECASE)
# libxml2 stops building the tree past its depth limit (256, or 2048 with huge_tree) and
# drops the rest of the page without raising: the error log is the only sign.
_DEPTH_ERROR = "Excessive depth"


@dataclass
class _Fields:
    site: str | None = None
    column: str | None = None
    title: str | None = None
    published_at: str | None = None
    source: str | None = None
    lines: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    body_found: bool = False
    invalid_dates: list[str] = field(default_factory=list)


class ArticlePage:
    """The record of one article page (the contract's fields, without `capture`).

    `body` is bytes as received (decoded by `encoding`, the HTTP header's charset, if given)
    or text; `url` is the canonical URL, kept as given and used to resolve image links.
    `requisites_url`: also read the page requisites (`requisites.tree_requisites`) against
    that URL from the tree before extraction changes it, into `requisites` (None when the
    page was not parsed as HTML); `codec` is the codec the text was decoded with.
    """

    def __init__(
        self,
        body: bytes | str,
        url: str,
        *,
        encoding: str | None = None,
        requisites_url: str | None = None,
    ) -> None:
        self.url = url
        decoded = decode_body(body, encoding)
        self.codec = decoded.encoding
        self.anomalies: list[Anomaly] = list(decoded.anomalies)
        self.requisites: list[str] | None = None
        self._requisites_url = requisites_url
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
    def to_record(self) -> ArticleRecord:
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
            "script": detect_script(f"{f.title or ''}\n{text[:SCRIPT_SAMPLE]}"),
            "text": text,
            "images": f.images,
            "interview": parse_interview(f.lines) if f.body_found else None,
            "anomalies": anomalies,
        }

    # --- HTML ---------------------------------------------------------------------------
    def _from_html(self, html: str) -> _Fields:
        f = _Fields()
        parser = html_parser()
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
        if self._requisites_url is not None:
            self.requisites = tree_requisites(root, self._requisites_url)
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
        page_title = normalize_space(text_of(marks.page_title[0])) if marks.page_title else ""

        remove_never_text(root, marks.never_text)
        remove_toolbar(root, marks.toolbar)
        self.anomalies.extend(remove_hidden(root, self.url, marks.styled))
        body = known_body(root, marks.body)
        f.site = meta.get(sel.META_SITE) or site_from_title(page_title)
        # The breadcrumb is read before furniture removal takes it away.
        f.column = (
            meta.get(sel.META_COLUMN) or column_from_title(page_title) or breadcrumb_column(root)
        )
        remove_furniture(root, keep=body, found=marks.furniture)
        if body is None:
            body = densest_body(root)

        header = header_lines(root, body)
        body_lines = text_lines(body) if body is not None else []
        body_lines = [x for x in (clean_line(b) for b in body_lines) if x]

        byline_i = find_byline(header)
        byline = strip_byline_furniture(header[byline_i]) if byline_i is not None else ""
        title_line = None
        if byline_i is None:
            # Older templates put title and byline inside the body container.
            k = find_byline(body_lines[:4])
            if k is not None:
                byline = strip_byline_furniture(body_lines[k])
                title_line = body_lines[k - 1] if k > 0 else None
                body_lines = body_lines[k + 1 :]
        elif byline_i > 0:
            title_line = line_before(header, byline_i, {f.site, f.column, page_title})

        ucap = marks.ucap_title
        f.title = (
            meta.get(sel.META_TITLE)
            or (normalize_space(text_of(ucap[0])) if ucap else "")
            or title_line
            or heading_title(root, body, {f.site, f.column, page_title})
            or None
        )
        pub = marks.publishtime
        date_texts = (meta.get(sel.META_DATE, ""), text_of(pub[0]) if pub else "", byline)
        f.published_at = best_page_date(*date_texts)
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
            f.column = column_from_title(page_title, short=True)
        if body is not None:
            f.images = images(body, self.url)
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
        f.site = site_from_title(page_title)
        f.column = column_from_title(page_title)

        regions = _regions(raw)
        byline_i = find_byline(raw)
        if byline_i is not None:
            byline = strip_byline_furniture(raw[byline_i])
            f.published_at = parse_page_date(byline)
            f.invalid_dates = impossible_dates(byline)
            sm = SOURCE_RE.search(byline)
            f.source = sm.group("source") if sm else None
            if byline_i > 0:
                f.title = line_before(raw, byline_i, {f.site, f.column, page_title})

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
