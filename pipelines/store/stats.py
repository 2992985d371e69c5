"""Planner statistics after a bulk change: `ANALYZE` on PostgreSQL, an approximate `ANALYZE`
on SQLite, run by the writer when a crawl or reindex has changed many rows.

Why: PostgreSQL picks the trigram index for a search only when its statistics say the
phrase is rare. Autovacuum refreshes them eventually (after 10% of a table changed, and on
its own schedule); the end of a run that just loaded thousands of rows is the moment an app
starts querying, so the writer refreshes them then.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

__all__ = ["ANALYZE_AFTER_ROWS", "refresh_statistics"]

# Rows inserted or updated by one run above which the statistics are refreshed. About a
# hundred new articles; an incremental daily crawl of a few new pages stays below.
ANALYZE_AFTER_ROWS = 1000

# SQLite: rows examined per index (PRAGMA analysis_limit). What `PRAGMA optimize` itself
# uses: approximate statistics, a few milliseconds per table however large it is.
SQLITE_ANALYSIS_LIMIT = 1000


def refresh_statistics(bind: Engine | Connection) -> None:
    """Refresh the query planner's statistics of the whole database, on either engine.

    SQLite: `ANALYZE` under `analysis_limit` rather than `PRAGMA optimize`, which (before
    SQLite 3.46) only analyses tables queried on the same connection: the writer's connection
    has written, not queried, so optimize would do nothing.
    """
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            _refresh(conn)
    else:
        _refresh(bind)


def _refresh(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
        conn.exec_driver_sql("ANALYZE")
    elif conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE"))
