"""Every selector the article page objects use, in one place. Pure: no parsing here.

When a template drifts, this is the module to edit. The selectors are data (tag names,
attribute values, class names) applied by `scan`, one Python pass over the parsed tree.
Why not XPath: on these pages each lxml XPath evaluation costs as much as the whole pass
(measured: five `//*[...]` queries ~650 us a page, the pass ~50 us), and extraction runs on
every page of a crawl and of `reindex`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lxml import etree

# Meta tags of the government-site standard (names compared case-insensitively).
META_SITE = "sitename"
META_DOMAIN = "sitedomain"
META_COLUMN = "columnname"
META_TITLE = "articletitle"
META_DATE = "pubdate"
META_SOURCE = "contentsource"

# The UCAP templates' own tags; libxml2 keeps unknown tags as elements.
UCAP_TITLE = "ucaptitle"
UCAP_PUBLISHTIME = "publishtime"
UCAP_CONTENT = "ucapcontent"

# Article body, most specific first: (priority, test). `wzades` is the sister sites'
# accessibility marker; `con_main` counts only inside `div.con_cen`.
BODY_WZADES = "正文"
BODY_IDS = {"zoom": 3}
BODY_CLASSES = (("con_main", 2), ("TRS_Editor", 4), ("article-content", 5))
BODY_CON_CEN = "con_cen"

# Elements whose text is never page text, removed first (tails kept).
NEVER_TEXT = frozenset(
    ("script", "style", "noscript", "template", "iframe", "object", "embed", "select")
)

# The accessibility toolbar injects its prompts as these links (see site-notes).
TOOLBAR_CLASS = "esdNavLink"
TOOLBAR_ID = "esdTipLink"

# Page furniture, removed by element wherever it sits (also caught by text in boilerplate.py).
FURNITURE_TAGS = frozenset(("nav", "footer"))
FURNITURE_ATTR_RE = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|menu|footer|foot|bottom|crumbs?|breadcrumbs?|dqwz|share|"
    r"fenxiang|bdshare|bdsharebuttonbox)(?:$|[\s_-])",
    re.IGNORECASE,
)

# Title candidates after meta and <ucaptitle>: headings before the body, nearest last.
HEADING_TAGS = frozenset(("h1", "h2", "h3"))

# Column when neither meta nor <title> names it: the breadcrumb's last step.
BREADCRUMB_WORDS = ("当前位置", "當前位置", "的位置", "所在位置")

# Tags that end a line of text when walking a tree.
BLOCK_TAGS = frozenset(
    """address article aside blockquote br center dd div dl dt fieldset figcaption figure
    footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td tfoot
    th thead tr ul ucapcontent ucaptitle""".split()
)

# Substrings every FURNITURE_ATTR_RE match holds: the regex runs only when one is there.
_FURNITURE_NEEDLES = ("nav", "menu", "foot", "bottom", "crumb", "dqwz", "share", "fenxiang")
_SPECIAL_TAGS = frozenset(("meta", "title", UCAP_TITLE, UCAP_PUBLISHTIME, UCAP_CONTENT))


@dataclass
class Marks:
    """What one pass over a page found, in document order."""

    meta: dict[str, str] = field(default_factory=dict)  # lower-cased name -> raw content
    page_title: list = field(default_factory=list)  # <title>
    ucap_title: list = field(default_factory=list)
    publishtime: list = field(default_factory=list)
    never_text: list = field(default_factory=list)
    toolbar: list = field(default_factory=list)
    styled: list = field(default_factory=list)  # with a style or hidden attribute
    furniture: list = field(default_factory=list)
    body: list = field(default_factory=list)  # (priority, element)


def scan(root: etree._Element) -> Marks:
    """One pass over the tree, sorting out every element a selector above names."""
    m = Marks()
    con_cen = None  # the innermost open div.con_cen is enough: templates do not nest them
    special, never, furniture_tags = _SPECIAL_TAGS, NEVER_TEXT, FURNITURE_TAGS
    for el in root.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue  # comment or processing instruction (parsers here drop them anyway)
        if tag in special:
            if tag == "meta":
                name, content = el.get("name"), el.get("content")
                if name and content is not None:
                    m.meta.setdefault(name.strip().lower(), content)
            elif tag == "title":
                m.page_title.append(el)
            elif tag == UCAP_TITLE:
                m.ucap_title.append(el)
            elif tag == UCAP_PUBLISHTIME:
                m.publishtime.append(el)
            else:
                m.body.append((1, el))
        elif tag in never:
            m.never_text.append(el)
            continue
        elif tag in furniture_tags:
            m.furniture.append(el)
        keys = el.keys()
        if not keys:
            continue
        if "style" in keys or "hidden" in keys:
            m.styled.append(el)
        if "wzades" in keys and el.get("wzades") == BODY_WZADES:
            m.body.append((0, el))
        cls = el.get("class") if "class" in keys else None
        ident = el.get("id") if "id" in keys else None
        if ident:
            if ident == TOOLBAR_ID:
                m.toolbar.append(el)
                continue
            if ident in BODY_IDS:
                m.body.append((BODY_IDS[ident], el))
        if cls:
            if tag == "a" and TOOLBAR_CLASS in cls:
                m.toolbar.append(el)
                continue
            if tag == "div" and BODY_CON_CEN in cls:
                con_cen = el
            for name, priority in BODY_CLASSES:
                if name in cls and (name != "con_main" or _inside(el, con_cen)):
                    m.body.append((priority, el))
        if cls or ident:
            words = f"{cls or ''} {ident or ''}".lower()
            for needle in _FURNITURE_NEEDLES:
                if needle in words:
                    if FURNITURE_ATTR_RE.search(words):
                        m.furniture.append(el)
                    break
    return m


def _inside(el: etree._Element, ancestor: etree._Element | None) -> bool:
    if ancestor is None:
        return False
    return any(a is ancestor for a in el.iterancestors())
