"""The crawl's article record: extraction plus what the crawl knows of the column. Pure.

The live crawl, `reindex` and the extraction worker processes all build records here, so
a database rebuilt from the WARC files equals the one the crawl wrote.
"""

from __future__ import annotations

from crawler.config import Column, Town
from crawler.pages import extract_record


def article_record(
    body: bytes, url: str, *, encoding: str | None, column: Column, town: Town | None
) -> dict:
    """The contract record of an article page, with `town` and `column_path` added and a
    missing `column` or `site` filled from the configuration.

    Raises `crawler.pages.UnreadablePage` for an empty or binary body.
    """
    record = extract_record(body, url, encoding=encoding)
    if not record.get("column"):
        record["column"] = column.name or None
    if not record.get("site") and town is not None:
        record["site"] = town.site
    record["town"] = column.town
    record["column_path"] = column.path
    return record
