"""Full-text search over the current versions, in either script: the phrase in simplified
script (OpenCC t2s) against the simplified copies of title and text, through the trigram
index of each engine (SQLite FTS5, PostgreSQL pg_trgm), or a substring scan for phrases too
short for trigrams."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Engine, Integer, Select, column, func, or_, select, text
from sqlalchemy.orm import Session

from pipelines.store.failures import translated
from pipelines.store.models import FTS_TABLE, Article
from pipelines.text import to_simplified

__all__ = ["MIN_TRIGRAM_PHRASE", "SEARCHABLE", "SEARCHED", "search", "search_query"]

# The columns with a trigram index (SQLite FTS5 table / PostgreSQL GIN indexes).
SEARCHABLE = ("title", "text", "title_simplified", "text_simplified")
# The columns `search()` looks in: the simplified copies cover pages in either script, and
# matching two columns instead of eight keeps PostgreSQL on its trigram indexes.
SEARCHED = ("title_simplified", "text_simplified")
# Trigram indexes find phrases of three characters or more; shorter ones are scanned for.
MIN_TRIGRAM_PHRASE = 3


def search(
    session_or_engine: Session | Engine, phrase: str, *, limit: int | None = None
) -> list[str]:
    """URLs of articles whose title or text contains `phrase`, newest first.

    The phrase is converted to simplified script (OpenCC t2s) and matched against the
    simplified copies of title and text (`title_simplified`, `text_simplified`), so a phrase
    in either script finds pages in either script. Three characters or more: SQLite's FTS5
    trigram index, PostgreSQL's pg_trgm GIN indexes. One or two characters (e.g. 乡村,
    which FTS5 `MATCH` silently never finds): a substring scan of the same two columns on
    both engines (`instr` / `LIKE`), slower but exact.
    """
    phrase = (phrase or "").strip()
    if not phrase:
        return []
    if isinstance(session_or_engine, Session):
        return _search(session_or_engine, phrase, limit)
    with Session(session_or_engine) as s, translated(session_or_engine):
        return _search(s, phrase, limit)


def search_query(
    phrase: str, dialect: str, *, limit: int | None = None, fts: bool = True
) -> Select[tuple[str]]:
    """The SELECT `search()` runs for `phrase` on `dialect` (`fts`: SQLite has the FTS5
    table). Public so that a test or an operator can EXPLAIN it."""
    simplified = to_simplified(phrase.strip()) or phrase.strip()
    query = select(Article.url)
    if dialect == "sqlite" and fts and len(simplified) >= MIN_TRIGRAM_PHRASE:
        # One FTS5 string (quotes doubled), restricted to the simplified columns: a
        # substring match through the trigram tokenizer.
        match = "{" + " ".join(SEARCHED) + "} : " + '"' + simplified.replace('"', '""') + '"'
        hits = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :match")
        hits = hits.bindparams(match=match).columns(column("rowid", Integer))
        query = query.where(Article.id.in_(select(hits.subquery().c.rowid)))
    else:
        query = query.where(
            or_(*(_contains(getattr(Article, c), simplified, dialect) for c in SEARCHED))
        )
    query = query.order_by(Article.published_at.desc().nulls_last(), Article.url)
    if limit is not None:
        query = query.limit(limit)
    return query


def _contains(col: ColumnElement[str], phrase: str, dialect: str) -> ColumnElement[bool]:
    """`col` contains `phrase`: the form each engine evaluates fastest, and that PostgreSQL's
    trigram indexes serve (LIKE and ILIKE both use gin_trgm_ops)."""
    caseless = phrase.lower() == phrase.upper()  # Chinese, digits: case folding is wasted
    if dialect == "sqlite" and caseless:
        return func.instr(col, phrase) > 0  # a byte compare; LIKE folds case per character
    pattern = "%" + phrase.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if dialect == "postgresql" and not caseless:
        return col.ilike(pattern, escape="\\")
    return col.like(pattern, escape="\\")  # SQLite LIKE is case-insensitive for ASCII


def _has_fts(s: Session) -> bool:
    found = s.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": FTS_TABLE},
    ).first()
    return found is not None


def _search(s: Session, phrase: str, limit: int | None) -> list[str]:
    dialect = s.get_bind().dialect.name
    fts = dialect == "sqlite" and _has_fts(s)
    return list(s.scalars(search_query(phrase, dialect, limit=limit, fts=fts)))
