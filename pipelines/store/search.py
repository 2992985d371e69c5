"""Full-text search over the current versions, in either script: SQLite FTS5 trigrams,
PostgreSQL pg_trgm through ILIKE, LIKE for phrases under three characters."""

from __future__ import annotations

from sqlalchemy import Engine, Integer, column, or_, select, text
from sqlalchemy.orm import Session

from pipelines.store.failures import translated
from pipelines.store.models import FTS_TABLE, Article
from pipelines.text import to_simplified

__all__ = ["SEARCHABLE", "search"]

# The columns full-text search looks in (SQLite FTS5 table / PostgreSQL trigram indexes).
SEARCHABLE = ("title", "text", "title_simplified", "text_simplified")


def search(
    session_or_engine: Session | Engine, phrase: str, *, limit: int | None = None
) -> list[str]:
    """URLs of articles whose title or text contains `phrase`, newest first.

    The phrase is also looked up in simplified script (OpenCC t2s) against the simplified
    copies, so either script finds pages in either script. SQLite uses the FTS5 trigram
    index; PostgreSQL the pg_trgm GIN indexes through ILIKE. A phrase under three
    characters cannot use a trigram index and is matched with LIKE.
    """
    phrase = (phrase or "").strip()
    if not phrase:
        return []
    phrases = list(dict.fromkeys([phrase, to_simplified(phrase) or phrase]))
    if isinstance(session_or_engine, Session):
        return _search(session_or_engine, phrases, limit)
    with Session(session_or_engine) as s, translated(session_or_engine):
        return _search(s, phrases, limit)


def _has_fts(s: Session) -> bool:
    found = s.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": FTS_TABLE},
    ).first()
    return found is not None


def _search(s: Session, phrases: list[str], limit: int | None) -> list[str]:
    dialect = s.get_bind().dialect.name
    query = select(Article.url)
    if dialect == "sqlite" and min(len(p) for p in phrases) >= 3 and _has_fts(s):
        # Each phrase as an FTS5 string (quotes doubled): a substring match via trigrams.
        match = " OR ".join('"' + p.replace('"', '""') + '"' for p in phrases)
        hits = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :match")
        hits = hits.bindparams(match=match).columns(column("rowid", Integer))
        query = query.where(Article.id.in_(select(hits.subquery().c.rowid)))
    else:
        conditions = []
        for p in phrases:
            pattern = "%" + p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            for col in SEARCHABLE:
                attr = getattr(Article, col)
                conditions.append(
                    attr.ilike(pattern, escape="\\")
                    if dialect == "postgresql"
                    else attr.like(pattern, escape="\\")
                )
        query = query.where(or_(*conditions))
    query = query.order_by(Article.published_at.desc().nulls_last(), Article.url)
    if limit is not None:
        query = query.limit(limit)
    return list(s.scalars(query))

