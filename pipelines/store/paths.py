"""The column path of an article URL, as the store files it (`site_columns.path`). Imports
nothing but the standard library, so that `dgarchive reindex`'s reader process (which files
records by column, `crawler.reindexpages`) need not import SQLAlchemy and the models for it;
`pipelines.store.transforms` re-exports it."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["column_path_of"]


def column_path_of(url: str) -> str:
    """`https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_1.html` -> `houjie/cjjs/tshj/`."""
    path = urlsplit(url).path.lstrip("/")
    head, sep, _ = path.partition("content/")
    if sep and (not head or head.endswith("/")):
        return head
    return path.rsplit("/", 1)[0] + "/" if "/" in path else ""
