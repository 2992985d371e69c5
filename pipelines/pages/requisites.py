"""Page requisites: the URLs an HTML page or a stylesheet needs to replay. Pure: text in, URLs out.

HTML: `<img src|srcset>`, `<picture><source srcset>`, `<input type=image src>`,
`<link rel=stylesheet|icon|shortcut icon|apple-touch-icon href>`, `<script src>`, and the CSS
inside `<style>` elements and `style` attributes. CSS: `url(...)`, `@import "..."`,
`image-set("...")`, tokenized by tinycss2 (comments, escapes and strings as a browser reads
them, which a regex gets wrong). Which of them are fetched (scope, robots.txt, already held)
is the spider's decision, not this module's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from urllib.parse import urldefrag, urljoin, urlsplit

import tinycss2
from lxml import etree
from parsel import Selector

from pipelines.pages.joins import base_key, folder_only

_LOWER = "translate(@rel, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
_REL_TOKENS = ("stylesheet", "icon", "apple-touch-icon")
LINK_HREFS = (
    "//link["
    + " or ".join(
        f"contains(concat(' ', normalize-space({_LOWER}), ' '), ' {t} ')" for t in _REL_TOKENS
    )
    + "]/@href"
)
SRC_ATTRS = "//img/@src | //script/@src | //input[@type='image' or @type='IMAGE']/@src"
SRCSET_ATTRS = "//img/@srcset | //source/@srcset"
STYLE_TEXT = "//style/text()"
STYLE_ATTRS = "//@style[contains(., 'url(') or contains(., 'URL(')]"
IMAGE_SET = ("image-set", "-webkit-image-set")
BASE_HREF = "//base/@href"
# Compiled, returning plain strings: parsel's `sel.xpath(q).getall()` gives the same strings
# through a Selector object per result, which cost more than the queries.
_QUERIES = {
    q: etree.XPath(q, smart_strings=False)
    for q in (LINK_HREFS, SRC_ATTRS, SRCSET_ATTRS, STYLE_TEXT, STYLE_ATTRS, BASE_HREF)
}
# (base_key, href) -> absolute URL or None: the stylesheets, scripts and images every page
# of a site links are resolved once per folder (`joins`). Dropped and begun again when full.
_RESOLVED: dict[tuple[tuple[str, ...], str], str | None] = {}
RESOLVED_LIMIT = 20_000


def _resolve(href: str, base: str) -> str | None:
    url = urldefrag(urljoin(base, href)).url
    return url if urlsplit(url).scheme in ("http", "https") else None


def _absolute(href: str, base: str, key: tuple[str, ...] | None = None) -> str | None:
    """`href` made absolute against `base`, fragment dropped; None unless http(s).
    `key`: `base_key(base)`, to use and fill the memo of resolved links."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None  # `url(#gradient)` names an element of the page, not a resource
    if key is None or not folder_only(href):
        return _resolve(href, base)
    try:
        return _RESOLVED[(key, href)]
    except KeyError:
        pass
    url = _resolve(href, base)
    if len(_RESOLVED) >= RESOLVED_LIMIT:
        _RESOLVED.clear()
    _RESOLVED[(key, href)] = url
    return url


def _unique(urls: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(u for u in urls if u))


def srcset_urls(srcset: str) -> list[str]:
    """The image candidates of a `srcset` (`a.png 1x, b.png 2x`), descriptors dropped."""
    out = []
    for candidate in srcset.split(","):
        parts = candidate.split()
        if parts:
            out.append(parts[0])
    return out


def _css_tokens(nodes: Iterable[object]) -> Iterator[str]:
    """Every URL in a tinycss2 component value list, nested blocks included."""
    import_pending = False
    for node in nodes:
        kind = getattr(node, "type", None)
        if kind in ("whitespace", "comment"):
            continue
        if kind == "at-keyword":
            import_pending = node.lower_value == "import"  # type: ignore[attr-defined]
            continue
        if import_pending and kind == "string":
            yield node.value  # type: ignore[attr-defined]  # @import "other.css";
        import_pending = False
        if kind == "url":
            yield node.value  # type: ignore[attr-defined]  # url(unquoted)
        elif kind == "function":
            name = node.lower_name  # type: ignore[attr-defined]
            args = node.arguments  # type: ignore[attr-defined]
            if name == "url" or name in IMAGE_SET:  # url("quoted"), image-set("a.png" 1x)
                for arg in args:
                    if getattr(arg, "type", None) == "string":
                        yield arg.value
                        if name == "url":
                            break
            yield from _css_tokens(args)
        elif kind in ("() block", "[] block", "{} block"):
            yield from _css_tokens(node.content)  # type: ignore[attr-defined]


def css_urls(css: str) -> list[str]:
    """URLs in a stylesheet's text as written (relative ones not resolved), in order."""
    return _unique(_css_tokens(tinycss2.parse_component_value_list(css, skip_comments=True)))


def css_requisites(css: bytes | str, base: str, *, encoding: str | None = None) -> list[str]:
    """Absolute URLs of the images, fonts and stylesheets a stylesheet at `base` refers to.

    Bytes are decoded as CSS says (BOM, the HTTP charset `encoding`, `@charset`, UTF-8)."""
    if isinstance(css, bytes):
        rules, _ = tinycss2.parse_stylesheet_bytes(
            css, protocol_encoding=encoding, skip_comments=True
        )
        text = tinycss2.serialize(rules)
    else:
        text = css
    return _unique(_absolute(u, base) for u in css_urls(text))


def html_requisites(page: Selector | etree._Element, base: str) -> list[str]:
    """Absolute URLs of what the parsed page (a Selector or its lxml root) at `base` loads
    to render, in page order by kind (links, scripts and images, srcsets, CSS)."""
    root = page.root if isinstance(page, Selector) else page
    q, key = _QUERIES, base_key(base)
    found: list[str | None] = [_absolute(h, base, key) for h in q[LINK_HREFS](root)]
    found += [_absolute(h, base, key) for h in q[SRC_ATTRS](root)]
    for srcset in q[SRCSET_ATTRS](root):
        found += [_absolute(h, base, key) for h in srcset_urls(srcset)]
    for css in q[STYLE_TEXT](root) + q[STYLE_ATTRS](root):
        found += [_absolute(u, base, key) for u in css_urls(css)]
    return _unique(found)


def page_requisites(body: bytes | str, url: str, *, encoding: str | None = None) -> list[str]:
    """`html_requisites` of a page's bytes; `<base href>` respected."""
    if isinstance(body, bytes):
        body = body.decode(encoding or "utf-8", errors="replace")
    sel = Selector(text=body or "<html></html>")
    if sel.type != "html":
        sel.xpath(BASE_HREF)  # JSON text: parsel's ValueError, as before
    return tree_requisites(sel.root, url)


def tree_requisites(root: etree._Element, url: str) -> list[str]:
    """`html_requisites` of a page already parsed (its lxml root) at `url`; `<base href>`
    respected. The crawl reads each article's from the page object's own tree, before
    extraction changes it, rather than decoding and parsing the page a second time."""
    hrefs = _QUERIES[BASE_HREF](root)
    return html_requisites(root, urljoin(url, hrefs[0] if hrefs else ""))


def favicon_url(site_root: str) -> str:
    """`favicon.ico` at the site root, which browsers ask for whatever the page links."""
    return urljoin(site_root, "favicon.ico")
