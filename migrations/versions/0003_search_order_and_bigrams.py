"""Search that scales: an index in result order, and a bigram index for two-character words.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

`pipelines.store.search` returns the newest matches first, a page at a time. Two things made
it slow on 20,000 articles (docs/schema.md, "Full-text search for Chinese"):

- Every match was sorted by `published_at` before the first 50 were taken. The index
  `ix_articles_search_order` lists articles in result order (`published_at DESC NULLS
  LAST, url`), so a frequent phrase is found by walking it and stopping after a page, and
  the candidates of a rare one are ordered without reading their rows.
- Trigram indexes cannot find a two-character word. A bigram index now does:
  - SQLite: the FTS5 table `articles_fts_bigrams` (contentless, `detail=none`, ASCII
    tokenizer), one token per position of `lower(title_simplified || '\n' ||
    text_simplified)`: the hex of the two characters there (one at the end). Hex, because
    FTS5 tokenizers split on punctuation. Triggers keep it in step with `articles`, so the
    writer needs no change.
  - PostgreSQL: the GIN index `bigram_articles_simplified` on the function
    `dgarchive_bigrams()` (the distinct two-character substrings of its argument) over the
    same lower-cased text. A GIN array match is exact: no row is read to recheck it.

Neither object is in the models (like the trigram indexes): env.py leaves them out of
`alembic check`. Both are filled from the existing rows here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORDER_INDEX = "ix_articles_search_order"
BIGRAM_TABLE = "articles_fts_bigrams"
BIGRAM_TRIGGERS = ("articles_fts_bigrams_ai", "articles_fts_bigrams_ad", "articles_fts_bigrams_au")
BIGRAM_INDEX = "bigram_articles_simplified"
BIGRAM_FUNCTION = "dgarchive_bigrams"
# What both engines index: title and text, simplified, lower-cased (as LIKE/ILIKE compare).
PG_BIGRAM_SOURCE = "lower(coalesce(title_simplified, '') || ' ' || coalesce(text_simplified, ''))"


def _sqlite_bigrams(row: str) -> str:
    """SQL for the space-separated hex bigrams of `row`'s simplified title and text: one
    token per character position (the last one alone). No CTE: triggers cannot have one;
    `json_each` over an array of n zeros counts the positions instead."""
    source = (
        f"lower(coalesce({row}.title_simplified, '') || char(10) || "
        f"coalesce({row}.text_simplified, ''))"
    )
    return (
        "(SELECT group_concat(hex(substr(s.v, j.key + 1, 2)), ' ') "
        f"FROM (SELECT {source} AS v) AS s, "
        "json_each('[' || replace(hex(zeroblob(length(s.v) - 1)), '00', '0,') || '0]') AS j)"
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # SQLite's DESC puts NULLs last already, and CREATE INDEX takes no NULLS clause.
        op.execute(f"CREATE INDEX {ORDER_INDEX} ON articles (published_at DESC, url)")
        if _sqlite_has_fts5():
            _create_sqlite_bigrams()
    elif dialect == "postgresql":
        op.execute(f"CREATE INDEX {ORDER_INDEX} ON articles (published_at DESC NULLS LAST, url)")
        op.execute(
            f"CREATE FUNCTION {BIGRAM_FUNCTION}(t text) RETURNS text[] "
            "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ "
            "SELECT coalesce(array_agg(DISTINCT substr(t, i, 2)), '{}') "
            "FROM generate_series(1, length(t)) AS i $$"
        )
        op.execute(
            f"COMMENT ON FUNCTION {BIGRAM_FUNCTION}(text) IS "
            "'The distinct two-character substrings of t (the last character alone): "
            "the keys of the bigram search index.'"
        )
        op.execute(
            f"CREATE INDEX {BIGRAM_INDEX} ON articles "
            f"USING gin ({BIGRAM_FUNCTION}({PG_BIGRAM_SOURCE}))"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute(f"DROP INDEX IF EXISTS {ORDER_INDEX}")
    if dialect == "sqlite":
        for trigger in BIGRAM_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute(f"DROP TABLE IF EXISTS {BIGRAM_TABLE}")
    elif dialect == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {BIGRAM_INDEX}")
        op.execute(f"DROP FUNCTION IF EXISTS {BIGRAM_FUNCTION}(text)")


def _sqlite_has_fts5() -> bool:
    # JSON functions (json_each) are built in from 3.38; FTS5 is in every Python build we
    # know of, but an SQLite without it keeps the substring scan.
    if sqlite3.sqlite_version_info < (3, 38, 0):
        return False
    found = op.get_bind().exec_driver_sql(
        "SELECT 1 FROM pragma_compile_options WHERE compile_options = 'ENABLE_FTS5'"
    )
    return found.scalar() is not None


def _create_sqlite_bigrams() -> None:
    # Contentless (content=''): the tokens are derived, there is nothing to store twice.
    # detail=none: a bigram query needs only which rows hold the token, not where.
    op.execute(
        f"CREATE VIRTUAL TABLE {BIGRAM_TABLE} USING fts5(bigrams, content='', "
        "detail='none', tokenize='ascii')"
    )
    ai, ad, au = BIGRAM_TRIGGERS
    insert = (
        f"INSERT INTO {BIGRAM_TABLE}(rowid, bigrams) VALUES (new.id, {_sqlite_bigrams('new')});"
    )
    # A contentless table forgets a row when given the very tokens it was given.
    delete = (
        f"INSERT INTO {BIGRAM_TABLE}({BIGRAM_TABLE}, rowid, bigrams) "
        f"VALUES ('delete', old.id, {_sqlite_bigrams('old')});"
    )
    op.execute(f"CREATE TRIGGER {ai} AFTER INSERT ON articles BEGIN {insert} END")
    op.execute(f"CREATE TRIGGER {ad} AFTER DELETE ON articles BEGIN {delete} END")
    op.execute(
        f"CREATE TRIGGER {au} AFTER UPDATE OF title_simplified, text_simplified ON articles "
        f"BEGIN {delete} {insert} END"
    )
    op.execute(
        f"INSERT INTO {BIGRAM_TABLE}(rowid, bigrams) "
        f"SELECT id, {_sqlite_bigrams('articles')} FROM articles"
    )
