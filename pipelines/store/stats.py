"""Planner statistics after a bulk change, run by the writer when a crawl or reindex has
changed many rows: `VACUUM articles` and `ANALYZE` on PostgreSQL, an approximate `ANALYZE`
on SQLite.

Why on PostgreSQL: the planner takes the trigram (GIN) indexes for a search only when its
statistics say so. A GIN index filled by inserts keeps them in a pending list, scanned on
every query, and its metapage counts (what the planner's cost estimate reads) are only
updated by VACUUM: after loading 5,000 articles the planner estimates the index scan at
three times a sequential scan that really takes a hundred times longer. Autovacuum fixes
this eventually, on its own schedule; the end of a run that just wrote thousands of rows is
when apps start querying.
"""

from __future__ import annotations

from sqlalchemy import Engine

__all__ = ["ANALYZE_AFTER_ROWS", "refresh_statistics"]

# Rows inserted or updated by one run above which the statistics are refreshed. About a
# hundred new articles; an incremental daily crawl of a few new pages stays below.
ANALYZE_AFTER_ROWS = 1000

# SQLite: rows examined per index (PRAGMA analysis_limit). What `PRAGMA optimize` itself
# uses: approximate statistics, a few milliseconds per table however large it is.
SQLITE_ANALYSIS_LIMIT = 1000


def refresh_statistics(engine: Engine) -> None:
    """Refresh the query planner's statistics of the whole database, on either engine.

    SQLite: `ANALYZE` under `analysis_limit` rather than `PRAGMA optimize`, which (before
    SQLite 3.46) only analyses tables queried on the same connection: the writer's connection
    has written, not queried, so optimize would do nothing.
    PostgreSQL: VACUUM cannot run in a transaction, so this uses an autocommit connection.
    """
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
            conn.exec_driver_sql("ANALYZE")
    elif engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # The GIN indexes' pending list and counts: only articles has them.
            conn.exec_driver_sql("VACUUM articles")
            conn.exec_driver_sql("ANALYZE")
