"""`htmltree.text_lines`: lines of a tree, with a skipped subtree as a mark."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lxml import etree

from pipelines.pages import selectors as sel
from pipelines.pages.htmltree import BODY_MARK, html_parser, text_lines

PAGES = Path(__file__).parent / "fixtures" / "pages"


def _stack_walk(root, skip=None):
    """The walk as it was written first (a stack of Python tuples): the reference."""
    lines, buf, stack = [], [], [(root, False)]
    while stack:
        el, closing = stack.pop()
        tag = el.tag
        if closing:
            if tag in sel.BLOCK_TAGS and buf:
                lines.append("".join(buf))
                buf.clear()
            if el.tail and el is not root:
                buf.append(el.tail)
            continue
        if not isinstance(tag, str):
            if el.tail and el is not root:
                buf.append(el.tail)
            continue
        if el is skip:
            if buf:
                lines.append("".join(buf))
                buf.clear()
            lines.append(BODY_MARK)
            if el.tail:
                buf.append(el.tail)
            continue
        if tag in sel.BLOCK_TAGS and buf:
            lines.append("".join(buf))
            buf.clear()
        if el.text:
            buf.append(el.text)
        stack.append((el, True))
        stack.extend((child, False) for child in reversed(el))
    if buf:
        lines.append("".join(buf))
    return lines


def test_lines_of_a_small_tree() -> None:
    root = etree.fromstring(
        "<div>a<p>b<i>c</i>d</p>e<br/>f<span>g</span>h<p>i</p>j</div>", html_parser()
    )
    body = root.find(".//p")
    assert text_lines(body) == ["bcd"]  # the root's own tail is not its text
    assert text_lines(root) == ["a", "bcd", "e", "fgh", "i", "j"]
    assert text_lines(root, skip=body) == ["a", BODY_MARK, "e", "fgh", "i", "j"]


@pytest.mark.parametrize("case", sorted(p.parent.name for p in PAGES.glob("*/input.html")))
def test_lines_equal_the_reference_walk_on_every_page_and_skipped_subtree(case: str) -> None:
    html = (PAGES / case / "input.html").read_text(encoding="utf-8", errors="replace")
    root = etree.fromstring(html, html_parser())
    if root is None:
        pytest.skip("no tree")
    # Comments are dropped by the parser; put some in so their tails are walked too.
    elements = list(root.iter())
    rng = random.Random(case)
    for el in rng.sample(elements, min(5, len(elements))):
        if el.getparent() is not None:
            comment = etree.Comment("c")
            comment.tail = "after a comment"
            el.addprevious(comment)
    elements = list(root.iter())
    skips = [None, root, *rng.sample(elements, min(40, len(elements)))]
    tags = [el for el in elements if isinstance(el.tag, str)]  # a root is an element
    for sub in [root, *rng.sample(tags, min(10, len(tags)))]:
        for skip in skips:
            assert text_lines(sub, skip) == _stack_walk(sub, skip)
