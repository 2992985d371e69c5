"""Page objects. Pure: URL and body in, record or listing out; no requests, settings or DB.

`extract_record` is the record of any page; `article_record` is the crawl's: it refuses a
page that is no complete, plausible article and adds what the crawl knows of the column. The
live crawl, `reindex` and the extraction worker processes all build records there, so a
database rebuilt from the WARC files equals the one the crawl wrote. The configuration is
the caller's: it passes the column's name and path, the town's slug and its site name as
plain values, so nothing here imports the crawler.
"""

from __future__ import annotations

import codecs

from pipelines.pages.article import ArticlePage
from pipelines.pages.encoding import UnreadablePage
from pipelines.pages.listing import Listing, is_article_url, parse_listing
from pipelines.pages.requisites import page_requisites
from pipelines.records import ArticleRecord

__all__ = [
    "Listing",
    "NotAnArticle",
    "UnreadablePage",
    "article_and_requisites",
    "article_record",
    "extract_record",
    "is_article_url",
    "parse_listing",
]


def extract_record(body: bytes | str, url: str, *, encoding: str | None = None) -> ArticleRecord:
    """The contract record (without `capture`) of one article page.

    `body` is the page as received (bytes, decoded by the HTTP header `encoding` if given,
    else by `<meta charset>`, else sniffed) or already-decoded text; `url` is canonical.
    """
    return ArticlePage(body, url, encoding=encoding).to_record()


class NotAnArticle(ValueError):
    """The page is archived but is no complete, plausible article: no record is stored.

    Its message is the reason the crawl reports under the article's URL.
    """


def article_record(
    body: bytes,
    url: str,
    *,
    encoding: str | None,
    town: str,
    column_path: str,
    column_name: str = "",
    site: str | None = None,
) -> ArticleRecord:
    """The contract record of an article page, with `town` (the town's slug) and
    `column_path` added, and a missing `column` or `site` filled from `column_name` and
    `site` (the configuration's names for them).

    Raises `UnreadablePage` for an empty or binary body, and `NotAnArticle`
    for a page that is not a complete, plausible article (`ArticlePage.refusal`): an error
    or maintenance template, a frameset, plain text, no body or no title.
    """
    return _article(ArticlePage(body, url, encoding=encoding), town, column_path, column_name, site)


def article_and_requisites(
    body: bytes,
    url: str,
    *,
    encoding: str | None,
    fetch_url: str,
    text_encoding: str | None,
    town: str,
    column_path: str,
    column_name: str = "",
    site: str | None = None,
) -> tuple[ArticleRecord, list[str]]:
    """`article_record` and the page's requisites (`requisites.page_requisites(body,
    fetch_url, encoding=text_encoding)`) from one decode and one parse of the page.

    The requisites are read from the page object's tree, which holds the very text the
    second decode would give when the page was decoded with the same codec without repair
    or loss; otherwise (another codec, mojibake repaired, bytes replaced, no tree) they are
    read as before, from a second decode and parse of `body`.
    """
    page = ArticlePage(body, url, encoding=encoding, requisites_url=fetch_url)
    record = _article(page, town, column_path, column_name, site)
    urls = page.requisites
    if urls is None or not _same_text(page, text_encoding):
        urls = page_requisites(body, fetch_url, encoding=text_encoding)
    return record, urls


def _same_text(page: ArticlePage, text_encoding: str | None) -> bool:
    """Whether `bytes.decode(text_encoding or "utf-8", "replace")` reads the page's bytes
    exactly as the page object did."""
    try:
        codec = codecs.lookup(text_encoding or "utf-8").name
    except LookupError:
        return False
    return codec == page.codec and not any(a["kind"] in _ALTERED for a in page.anomalies)


# Anomalies of a decode whose text is not `bytes.decode(codec, "replace")`.
_ALTERED = frozenset({"mojibake_repaired", "decode_errors"})


def _article(
    page: ArticlePage, town: str, column_path: str, column_name: str, site: str | None
) -> ArticleRecord:
    reason = page.refusal()
    if reason is not None:
        raise NotAnArticle(reason)
    record = page.to_record()
    if not record.get("column"):
        record["column"] = column_name or None
    if not record.get("site") and site is not None:
        record["site"] = site
    record["town"] = town
    record["column_path"] = column_path
    return record
