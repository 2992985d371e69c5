"""The crawl's article record: extraction plus what the crawl knows of the column. Pure.

The live crawl, `reindex` and the extraction worker processes all build records here, so
a database rebuilt from the WARC files equals the one the crawl wrote.
"""

from __future__ import annotations

from crawler.config import Column, Town
from crawler.pages.article import ArticlePage


class NotAnArticle(ValueError):  # noqa: N818 - it names what the page is, not an error
    """The page is archived but is no complete, plausible article: no record is stored.

    Its message is the reason the crawl reports under the article's URL.
    """


def article_record(
    body: bytes, url: str, *, encoding: str | None, column: Column, town: Town | None
) -> dict:
    """The contract record of an article page, with `town` and `column_path` added and a
    missing `column` or `site` filled from the configuration.

    Raises `crawler.pages.UnreadablePage` for an empty or binary body, and `NotAnArticle`
    for a page that is not a complete, plausible article (`ArticlePage.refusal`): an error
    or maintenance template, a frameset, plain text, no body or no title.
    """
    page = ArticlePage(body, url, encoding=encoding)
    reason = page.refusal()
    if reason is not None:
        raise NotAnArticle(reason)
    record = page.to_record()
    if not record.get("column"):
        record["column"] = column.name or None
    if not record.get("site") and town is not None:
        record["site"] = town.site
    record["town"] = column.town
    record["column_path"] = column.path
    return record
