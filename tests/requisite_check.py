"""An independent reading of what archived pages need, for tests: which requisites every HTML
page and stylesheet in WARC files refers to, and which of them the files hold.

Deliberately not `pipelines.pages.requisites`: the standard library's HTML parser and a
regular expression for CSS, so a mistake there is not repeated here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from warcio.archiveiterator import ArchiveIterator

CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]+))\s*\)""", re.I)
CSS_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.I)
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def css_refs(css: str) -> list[str]:
    css = CSS_COMMENT.sub("", css)
    found = [next(g for g in m.groups() if g is not None) for m in CSS_URL.finditer(css)]
    found += [next(g for g in m.groups() if g is not None) for m in CSS_IMPORT.finditer(css)]
    return found


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []
        self.base: str | None = None
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        rel = a.get("rel", "").lower().split()
        if tag == "base" and a.get("href") and self.base is None:
            self.base = a["href"]
        if tag in ("img", "script") and a.get("src"):
            self.refs.append(a["src"])
        if tag == "input" and a.get("type", "").lower() == "image" and a.get("src"):
            self.refs.append(a["src"])
        if tag in ("img", "source") and a.get("srcset"):
            self.refs += [c.split()[0] for c in a["srcset"].split(",") if c.split()]
        if tag == "link" and a.get("href") and {"stylesheet", "icon"} & set(rel):
            self.refs.append(a["href"])
        if a.get("style"):
            self.refs += css_refs(a["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.refs += css_refs(data)


def html_refs(html: str, url: str) -> list[str]:
    parser = _Refs()
    parser.feed(html)
    base = urljoin(url, parser.base or "")
    return [urldefrag(urljoin(base, r.strip())).url for r in parser.refs if r.strip()]


@dataclass
class ArchiveRefs:
    """What the WARC files hold and what their pages refer to."""

    held: set[str] = field(default_factory=set)  # target URIs of responses
    html_pages: set[str] = field(default_factory=set)  # 200 text/html responses
    refs: dict[str, set[str]] = field(default_factory=dict)  # requisite -> pages referring

    def missing(self) -> dict[str, set[str]]:
        """Requisites no response in the files answers, with the pages that need them."""
        return {u: p for u, p in self.refs.items() if u not in self.held}


def _body(record: object) -> bytes:
    return record.content_stream().read()  # type: ignore[attr-defined]  # gzip decoded


def archive_refs(warcs: Iterable[Path], site_root: str, robots_txt: str) -> ArchiveRefs:
    """Requisites of every archived page and stylesheet on `site_root`'s host, robots.txt
    Disallows left out (the crawl must not fetch them), and the responses the files hold."""
    robots = RobotFileParser()
    robots.parse(robots_txt.splitlines())
    host = urlsplit(site_root).netloc
    out = ArchiveRefs()
    for path in warcs:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type != "response":
                    continue
                uri = rec.rec_headers.get_header("WARC-Target-URI")
                out.held.add(uri)
                if rec.http_headers.get_statuscode() != "200":
                    continue
                ctype = (rec.http_headers.get_header("Content-Type") or "").lower()
                charset = "gbk" if "gbk" in ctype else "utf-8"
                if ctype.startswith("text/html"):
                    text = _body(rec).decode(charset, "replace")
                    if "charset=gb2312" in text[:2000].lower():
                        text = _body(rec).decode("gb18030", "replace")
                    out.html_pages.add(uri)
                    refs = html_refs(text, uri)
                elif ctype.startswith("text/css"):
                    refs = [urljoin(uri, r) for r in css_refs(_body(rec).decode("utf-8"))]
                else:
                    continue
                for ref in refs:
                    parts = urlsplit(ref)
                    if parts.scheme not in ("http", "https") or parts.netloc != host:
                        continue
                    if not robots.can_fetch("*", ref):
                        continue
                    out.refs.setdefault(ref, set()).add(uri)
    return out
