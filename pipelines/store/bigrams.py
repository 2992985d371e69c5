"""The SQLite bigram search index (migration 0003) filled by the writer instead of its insert
trigger, for batches of many new articles (`dgarchive reindex`).

The trigger `articles_fts_bigrams_ai` computes each new article's tokens in SQL, one
`json_each` row per character; that was about 30% of `RecordStore.save`'s CPU in a
reindex. `bigram_tokens` computes the same string in Python, several times faster (under
0.1 s against 0.7 s for the 2,000 articles of `bench_reindex`). Within one batch's transaction
`WriterBigrams` drops the trigger, lets the batch's rows be written, inserts their tokens and
creates the trigger again from its own stored SQL, so no other connection ever sees the
database without it, and every other write (updates, deletes, the crawl's writer) goes
through the triggers as before. The index holds the same tokens for the same rows either
way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from pipelines.store.declarative import BIGRAM_TABLE
from pipelines.store.models import Article

__all__ = ["BIGRAM_INSERT_TRIGGER", "WriterBigrams", "bigram_tokens"]

BIGRAM_INSERT_TRIGGER = BIGRAM_TABLE + "_ai"
# sha256 of the trigger's SQL as migration 0003 creates it: `bigram_tokens` is that SQL's
# expression, so a trigger with any other SQL is left to do its own work.
TRIGGER_SQL_SHA256 = "4fe85cb7afe3b5608f9735081e8b5bf6ee8e01f6a34fe60fac71d01620e4c6a6"


class _Hex(dict[str, str]):
    """A character -> `H + " " + H`, where H is the upper-case hex of its UTF-8, ASCII letters
    folded to lower case first (as SQLite's `lower` folds them); filled as characters are
    met (a few thousand distinct ones in Chinese text; at most `_HEX_KEPT`, so that no text
    makes it grow without bound)."""

    def __missing__(self, char: str) -> str:
        found = char.encode("utf-8").lower().hex().upper()
        found = found + " " + found
        if len(self) < _HEX_KEPT:
            self[char] = found
        return found


_HEX_KEPT = 1 << 16
_HEX = _Hex()


def bigram_tokens(title_simplified: str | None, text_simplified: str | None) -> str:
    """The bigram column migration 0003's trigger gives a row: over `lower(title || char(10)
    || text)` (SQLite's `lower` folds ASCII only, as `bytes.lower` does), the upper-case hex
    of the UTF-8 of the two characters at each position (the last character alone),
    separated by spaces.

    With H0 … Hn the characters' hex, that string is `H0H1 H1H2 … Hn-1Hn Hn`: H0, then
    `Hi + " " + Hi` for every later character, run together. Each character's doubled hex
    comes from a table (`_HEX`) and the string is one `join` in C: no string per token
    (twice as fast as pairing the characters' hex and joining the pairs)."""
    chars = (title_simplified or "") + "\n" + (text_simplified or "")
    first = _HEX[chars[0]]
    return first[: len(first) // 2] + "".join(map(_HEX.__getitem__, chars[1:]))


def sqlite_trigger_sql(session: Session, name: str) -> str | None:
    """The SQL of the SQLite trigger `name`; None if there is none (or on PostgreSQL)."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    return session.scalar(
        text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
        {"name": name},
    )


class WriterBigrams:
    """`before_flush()`, then the flush of the new `articles`, then `after_flush()`, all in
    one transaction. Does nothing where the trigger does not exist (PostgreSQL, whose GIN
    index follows the rows by itself; an SQLite without FTS5) or is not migration 0003's."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.trigger_sql: str | None = None

    def before_flush(self) -> None:
        found = sqlite_trigger_sql(self.session, BIGRAM_INSERT_TRIGGER)
        if found is None or hashlib.sha256(found.encode()).hexdigest() != TRIGGER_SQL_SHA256:
            return
        self.trigger_sql = found
        self.session.execute(text(f"DROP TRIGGER {BIGRAM_INSERT_TRIGGER}"))

    def after_flush(self, articles: Iterable[Article]) -> None:
        self.after_rows(
            {
                "id": a.id,
                "title_simplified": a.title_simplified,
                "text_simplified": a.text_simplified,
            }
            for a in articles
        )

    def after_rows(self, articles: Iterable[Mapping[str, Any]]) -> None:
        """`after_flush` for article rows as dicts (`pipelines.store.bulk`)."""
        if self.trigger_sql is None:
            return
        rows = [
            (a["id"], bigram_tokens(a["title_simplified"], a["text_simplified"]))
            for a in sorted(articles, key=lambda a: a["id"])
        ]
        if rows:  # SQLite's own placeholders: an int and a str need no bind processing
            self.session.connection().exec_driver_sql(
                f"INSERT INTO {BIGRAM_TABLE}(rowid, bigrams) VALUES (?, ?)", rows
            )
        self.session.execute(text(self.trigger_sql))
