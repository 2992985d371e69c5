"""The HTML parser and the text of a tree as lines. Pure: markup in, lxml tree or lines out."""

from __future__ import annotations

import threading

from lxml import etree

from pipelines.pages import selectors as sel

__all__ = ["BODY_MARK", "html_parser", "text_lines", "text_of"]

BODY_MARK = "\x00body"  # the line `text_lines` puts where its `skip` subtree was

_local = threading.local()


def html_parser() -> etree.HTMLParser:
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


def text_of(el: etree._Element) -> str:
    """All the text inside `el`, as one string."""
    return "".join(el.itertext())


def text_lines(root: etree._Element, skip: etree._Element | None = None) -> list[str]:
    """The text of `root`, a line per block element or <br>; `skip`'s subtree becomes a mark.

    lxml's `iterwalk` walks the tree in C (start and end of every element); a stack of
    Python tuples cost 40% more over the mirror's pages.
    """
    lines: list[str] = []
    buf: list[str] = []
    blocks = sel.BLOCK_TAGS
    walk = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, el in walk:
        tag = el.tag
        if event == "start":
            if el is skip:
                walk.skip_subtree()  # its end event still comes, with its tail
                if buf:
                    lines.append("".join(buf))
                    buf.clear()
                lines.append(BODY_MARK)
                continue
            if tag in blocks and buf:
                lines.append("".join(buf))
                buf.clear()
            if el.text:
                buf.append(el.text)
            continue
        if event != "end":  # comment or processing instruction: only its tail
            if el.tail and el is not root:
                buf.append(el.tail)
            continue
        if el is skip:
            if el.tail:
                buf.append(el.tail)
            continue
        if tag in blocks and buf:
            lines.append("".join(buf))
            buf.clear()
        if el.tail and el is not root:
            buf.append(el.tail)
    if buf:
        lines.append("".join(buf))
    return lines
