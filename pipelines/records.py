"""The crawl's article record: extraction plus what the crawl knows of the column. Pure.

The live crawl, `reindex` and the extraction worker processes all build records here, so
a database rebuilt from the WARC files equals the one the crawl wrote. The configuration is
the caller's: it passes the column's name and path, the town's slug and its site name as
plain values, so nothing here imports the crawler.
"""

from __future__ import annotations

from pipelines.pages.article import ArticlePage


class NotAnArticle(ValueError):  # noqa: N818 - it names what the page is, not an error
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
) -> dict:
    """The contract record of an article page, with `town` (the town's slug) and
    `column_path` added, and a missing `column` or `site` filled from `column_name` and
    `site` (the configuration's names for them).

    Raises `pipelines.pages.UnreadablePage` for an empty or binary body, and `NotAnArticle`
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
