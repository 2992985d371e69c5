"""Page objects. Pure: URL and body in, record or listing out; no requests, settings or DB."""

from __future__ import annotations

from pipelines.pages.article import ArticlePage
from pipelines.pages.encoding import UnreadablePage
from pipelines.pages.listing import Listing, is_article_url, parse_listing

__all__ = ["Listing", "UnreadablePage", "extract_record", "is_article_url", "parse_listing"]


def extract_record(body: bytes | str, url: str, *, encoding: str | None = None) -> dict:
    """The contract record (without `capture`) of one article page.

    `body` is the page as received (bytes, decoded by the HTTP header `encoding` if given,
    else by `<meta charset>`, else sniffed) or already-decoded text; `url` is canonical.
    """
    return ArticlePage(body, url, encoding=encoding).to_record()
