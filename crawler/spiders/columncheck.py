"""A configured column that is gone or no longer a list page: one configuration problem that
names the column, instead of page failures an operator has to read back to the cause."""

from __future__ import annotations

from crawler.config import Column

# request.meta flag on the request for a column's own first list page.
COLUMN_ROOT = "dgarchive_column_root"


def column_problem(column: Column, what: str) -> str:
    """`configuration: column houjie/xwzx/zhxw/ (综合新闻) is missing: HTTP 404; …`."""
    name = f" ({column.name})" if column.name else ""
    if not what.startswith("is "):
        what = f"is missing: {what}"
    return (
        f"configuration: column {column.path}{name} {what}; check the towns file with "
        "`dgarchive towns check` (or find the column again with `dgarchive towns discover`)"
    )
