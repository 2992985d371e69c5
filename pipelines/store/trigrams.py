"""The SQLite trigram search index (`articles_fts`, migrations 0001 and 0004) filled once per
batch of new articles by `pipelines.store.bulk`, instead of row by row by its insert trigger.

Within the batch's transaction `WriterTrigrams` drops the insert trigger `articles_fts_ai`,
lets the batch's article rows be inserted, indexes them with one `INSERT ... SELECT` over
their ids from the index's content view (`articles_fts_source`: an original title or text
only where it differs from its simplified copy), and creates the trigger again from its own
stored SQL: no other connection ever sees the database without it, and every other write
(updates, deletes, the crawl's writer) goes through the triggers as before. The index gets
the same rows with the same values either way, so search answers the same
(tests/test_store_bulk.py, tests/test_search.py).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from pipelines.store.bigrams import sqlite_trigger_sql
from pipelines.store.declarative import FTS_TABLE

__all__ = ["SOURCE_VIEW", "TRIGGER_SQL", "TRIGRAM_INSERT_TRIGGER", "WriterTrigrams"]

TRIGRAM_INSERT_TRIGGER = FTS_TABLE + "_ai"
SOURCE_VIEW = FTS_TABLE + "_source"
# The indexed columns and the trigger's SQL as migration 0004 creates it; a trigger with any
# other SQL is left to do its own work (tests/test_migrations.py holds the two equal).
_COLUMNS = ("title", "text", "title_simplified", "text_simplified")
_COLS = ", ".join(_COLUMNS)
TRIGGER_SQL = (
    f"CREATE TRIGGER {TRIGRAM_INSERT_TRIGGER} AFTER INSERT ON articles BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, {_COLS}) VALUES (new.id, "
    "CASE WHEN new.title IS NOT new.title_simplified THEN new.title END, "
    "CASE WHEN new.text IS NOT new.text_simplified THEN new.text END, "
    "new.title_simplified, new.text_simplified); END"
)


class WriterTrigrams:
    """`before_insert()`, then the insert of the new articles, then `after_insert(ids)`, all
    in one transaction. Does nothing where the trigger does not exist (PostgreSQL, whose
    pg_trgm indexes follow the rows by themselves; an SQLite without FTS5) or is not the
    migrations'."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dropped = False

    def before_insert(self) -> None:
        if sqlite_trigger_sql(self.session, TRIGRAM_INSERT_TRIGGER) != TRIGGER_SQL:
            return
        self.session.execute(text(f"DROP TRIGGER {TRIGRAM_INSERT_TRIGGER}"))
        self.dropped = True

    def after_insert(self, first_id: int, last_id: int) -> None:
        """Index the articles with ids `first_id`..`last_id` (the batch's new ones, all of
        them inserted after `before_insert`), in id order as the trigger would have."""
        if not self.dropped:
            return
        self.session.execute(
            text(
                f"INSERT INTO {FTS_TABLE}(rowid, {_COLS}) SELECT id, {_COLS} FROM {SOURCE_VIEW} "
                "WHERE id BETWEEN :first AND :last ORDER BY id"
            ),
            {"first": first_id, "last": last_id},
        )
        self.session.execute(text(TRIGGER_SQL))
