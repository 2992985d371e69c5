"""Page objects. Pure: URL and body in, record or listing out; no requests, settings or DB.

`extract_record` is the record of any page; `article_record` is the crawl's: it refuses a
page that is no complete, plausible article and adds what the crawl knows of the column. The
live crawl, `reindex` and the extraction worker processes all build records there, so a
database rebuilt from the WARC files equals the one the crawl wrote. The configuration is
the caller's: it passes the column's name and path, the town's slug and its site name as
plain values, so nothing here imports the crawler.
"""

from __future__ import annotations

from pipelines.pages.article import ArticlePage
from pipelines.pages.encoding import UnreadablePage
from pipelines.pages.listing import Listing, is_article_url, parse_listing
from pipelines.records import ArticleRecord

__all__ = [
    "Listing",
    "NotAnArticle",
    "UnreadablePage",
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
    page = ArticlePage(body, url, encoding=encoding)
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
