"""Every selector the article page objects use, in one place. Pure data: no parsing here.

When a template drifts, this is the module to edit. Each tuple is tried in order; the first
match wins. XPath is used (compiled once, with lxml) because extraction runs on every page of
a crawl and `reindex`, and CSS-to-XPath translation per call costs more than the parse itself.
"""

from __future__ import annotations

from lxml import etree

# Meta tags of the government-site standard (names compared case-insensitively).
META_SITE = "sitename"
META_DOMAIN = "sitedomain"
META_COLUMN = "columnname"
META_TITLE = "articletitle"
META_DATE = "pubdate"
META_SOURCE = "contentsource"

ALL_META = etree.XPath("//meta[@name and @content]")
PAGE_TITLE = etree.XPath("//title")

# The UCAP templates' own tags; libxml2 keeps unknown tags as elements.
UCAP_TITLE = etree.XPath("//ucaptitle")
UCAP_PUBLISHTIME = etree.XPath("//publishtime")

# Article body, most specific first. `wzades` is the sister sites' accessibility marker.
BODY = tuple(
    etree.XPath(x)
    for x in (
        '//*[@wzades="正文"]',
        "//ucapcontent",
        '//div[contains(concat(" ", normalize-space(@class), " "), " con_cen ")]'
        '//*[contains(concat(" ", normalize-space(@class), " "), " con_main ")]',
        '//*[@id="zoom"]',
        '//*[contains(concat(" ", normalize-space(@class), " "), " TRS_Editor ")]',
        '//*[contains(concat(" ", normalize-space(@class), " "), " article-content ")]',
    )
)
# Fallback when no known container matches: score the parents of paragraphs and line breaks.
PARAGRAPHS = etree.XPath("//p")
LINE_BREAKS = etree.XPath("//br")

# Title candidates after meta and <ucaptitle>: headings before the body, nearest last.
HEADINGS_BEFORE = etree.XPath("preceding::h1 | preceding::h2 | preceding::h3")
HEADINGS = etree.XPath("//h1 | //h2 | //h3")

# Elements removed before any text is read.
NEVER_TEXT = ("script", "style", "noscript", "template", "iframe", "object", "embed", "select")

# The accessibility toolbar injects its prompts as these links (see site-notes).
TOOLBAR = etree.XPath(
    '//a[contains(concat(" ", normalize-space(@class), " "), " esdNavLink ")]'
    ' | //*[@id="esdTipLink"]'
)
STYLED = etree.XPath("//*[@style] | //*[@hidden]")
LINKS_IN = etree.XPath("descendant-or-self::a[@href]")

# Page furniture, removed by element wherever it sits (also caught by text in cleaning.py).
FURNITURE = etree.XPath(
    "//nav | //footer"
    ' | //*[contains(concat(" ", normalize-space(@class), " "), " bdsharebuttonbox ")]'
    ' | //*[contains(concat(" ", normalize-space(@class), " "), " share ")]'
    ' | //*[@id="share"]'
)

IMAGES_IN = etree.XPath("descendant::img")

# Tags that end a line of text when walking a tree.
BLOCK_TAGS = frozenset(
    """address article aside blockquote br center dd div dl dt fieldset figcaption figure
    footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td tfoot
    th thead tr ul ucapcontent ucaptitle""".split()
)
