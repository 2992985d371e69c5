"""Full-text search over the current versions, in either script, newest first: the phrase in
simplified script (OpenCC t2s) against the simplified copies of title and text.

Two steps, because a results page is what an app asks for (docs/schema.md, "Full-text search
for Chinese"):

1. The probe: the newest `PROBE_ROWS` articles, walked in result order through
   `ix_articles_search_order`, checked one by one. A frequent phrase fills the page here,
   without touching the index of a word found in most of the archive.
2. The index: the rows an index finds, ordered by walking the same order index. Three
   characters or more: the trigram index (SQLite FTS5 `articles_fts`, PostgreSQL pg_trgm).
   Two characters: the bigram index (SQLite FTS5 `articles_fts_bigrams`, PostgreSQL GIN
   `bigram_articles_simplified`). One character: a substring scan.

Both steps answer the same question, so the result is that of step 2 alone.
"""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    Engine,
    Integer,
    Select,
    UnaryExpression,
    column,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from pipelines.store.failures import translated
from pipelines.store.models import BIGRAM_TABLE, FTS_TABLE, Article
from pipelines.text import to_simplified

__all__ = [
    "MIN_TRIGRAM_PHRASE",
    "PROBE_ROWS",
    "SEARCHABLE",
    "SEARCHED",
    "probe_query",
    "search",
    "search_query",
]

# The columns with a trigram index (SQLite FTS5 table / PostgreSQL GIN indexes).
SEARCHABLE = ("title", "text", "title_simplified", "text_simplified")
# The columns `search()` looks in: the simplified copies cover pages in either script, and
# matching two columns instead of eight keeps PostgreSQL on its trigram indexes.
SEARCHED = ("title_simplified", "text_simplified")
# Trigram indexes find phrases of three characters or more; bigram indexes two characters.
MIN_TRIGRAM_PHRASE = 3
BIGRAM_PHRASE = 2
# Newest articles checked before an index is asked. A phrase in a quarter of the articles
# fills a page of 50 here; checking 200 rows costs about what a rare phrase's index lookup
# does (bench/bench_search.py).
PROBE_ROWS = 200
# PostgreSQL: the expression `bigram_articles_simplified` indexes (migration 0003); the
# query must spell the same expression for the planner to use it.
PG_BIGRAMS = (
    "dgarchive_bigrams(lower(coalesce(title_simplified, '') || ' ' || "
    "coalesce(text_simplified, '')))"
)


def search(
    session_or_engine: Session | Engine, phrase: str, *, limit: int | None = None
) -> list[str]:
    """URLs of articles whose title or text contains `phrase`, newest first (by
    `published_at`, unknown dates last, then URL), at most `limit`.

    The phrase is converted to simplified script (OpenCC t2s) and matched against the
    simplified copies of title and text (`title_simplified`, `text_simplified`), so a phrase
    in either script finds pages in either script. Latin letters match in either case.
    """
    phrase = (phrase or "").strip()
    if not phrase:
        return []
    if isinstance(session_or_engine, Session):
        return _search(session_or_engine, phrase, limit)
    with Session(session_or_engine) as s, translated(session_or_engine):
        return _search(s, phrase, limit)


def _order() -> tuple[UnaryExpression, ...]:
    # Spelled as ix_articles_search_order is, so both engines walk it instead of sorting.
    return (Article.published_at.desc().nulls_last(), Article.url.asc())


def search_query(
    phrase: str,
    dialect: str,
    *,
    limit: int | None = None,
    fts: bool = True,
    bigrams: bool | None = None,
) -> Select[tuple[str]]:
    """The indexed SELECT `search()` runs for `phrase` on `dialect` (step 2). `fts`,
    `bigrams`: SQLite has the trigram and bigram FTS5 tables (`bigrams` defaults to `fts`).
    Public so that a test or an operator can EXPLAIN it."""
    simplified = _simplified(phrase)
    bigrams = fts if bigrams is None else bigrams
    query = select(Article.url)
    if dialect == "sqlite" and fts and len(simplified) >= MIN_TRIGRAM_PHRASE:
        # One FTS5 string (quotes doubled), restricted to the simplified columns: a
        # substring match through the trigram tokenizer.
        match = "{" + " ".join(SEARCHED) + "} : " + '"' + simplified.replace('"', '""') + '"'
        query = query.where(Article.id.in_(_fts_rowids(FTS_TABLE, match)))
    elif dialect == "sqlite" and bigrams and _sqlite_bigram_ok(simplified):
        # The token migration 0003 indexes: hex of the two characters, ASCII lower-cased as
        # SQLite's lower() does (so "GD" finds "gd", as LIKE would).
        token = _ascii_lower(simplified).encode().hex().upper()
        query = query.where(Article.id.in_(_fts_rowids(BIGRAM_TABLE, f'"{token}"')))
    elif dialect == "postgresql" and len(simplified) == BIGRAM_PHRASE:
        # Exact, like ILIKE: both sides lower-cased by the same lower().
        query = query.where(
            text(f"{PG_BIGRAMS} && ARRAY[lower(CAST(:bigram AS text))]").bindparams(
                bigram=simplified
            )
        )
    else:
        query = query.where(
            or_(*(_contains(getattr(Article, c), simplified, dialect) for c in SEARCHED))
        )
    query = query.order_by(*_order())
    if limit is not None:
        query = query.limit(limit)
    return query


def probe_query(phrase: str, dialect: str, *, limit: int) -> Select[tuple[str]]:
    """The first `limit` matches among the newest `PROBE_ROWS` articles (step 1): when it
    finds `limit`, they are the answer, whatever older articles hold."""
    simplified = _simplified(phrase)
    newest = (
        select(Article.url, Article.published_at, *(getattr(Article, c) for c in SEARCHED))
        .order_by(*_order())
        .limit(PROBE_ROWS)
        .subquery("newest")
    )
    return (
        select(newest.c.url)
        .where(or_(*(_contains(newest.c[c], simplified, dialect) for c in SEARCHED)))
        .order_by(newest.c.published_at.desc().nulls_last(), newest.c.url.asc())
        .limit(limit)
    )


def _simplified(phrase: str) -> str:
    return to_simplified(phrase.strip()) or phrase.strip()


def _fts_rowids(table: str, match: str) -> Select[tuple[int]]:
    hits = text(f"SELECT rowid FROM {table} WHERE {table} MATCH :match")
    hits = hits.bindparams(match=match).columns(column("rowid", Integer))
    return select(hits.subquery().c.rowid)


def _ascii_lower(phrase: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in phrase)


def _caseless(phrase: str) -> bool:
    return phrase.lower() == phrase.upper()  # Chinese, digits: case folding is wasted


def _sqlite_bigram_ok(phrase: str) -> bool:
    """The bigram table answers exactly as `LIKE`: two characters whose only letters with
    case are ASCII (SQLite's LIKE and lower() fold ASCII only)."""
    return len(phrase) == BIGRAM_PHRASE and all(c.isascii() or _caseless(c) for c in phrase)


def _probe_agrees(phrase: str, dialect: str, fts: bool) -> bool:
    """The probe's substring test finds what the index step would. Not so for an SQLite
    trigram search with letters in it: FTS5 folds case beyond ASCII, LIKE does not."""
    if dialect != "sqlite" or not fts or len(phrase) < MIN_TRIGRAM_PHRASE:
        return True
    return _caseless(phrase)


def _contains(col: ColumnElement[str], phrase: str, dialect: str) -> ColumnElement[bool]:
    """`col` contains `phrase`: the form each engine evaluates fastest, and that PostgreSQL's
    trigram indexes serve (LIKE and ILIKE both use gin_trgm_ops)."""
    caseless = _caseless(phrase)
    if dialect == "sqlite" and caseless:
        return func.instr(col, phrase) > 0  # a byte compare; LIKE folds case per character
    pattern = "%" + phrase.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if dialect == "postgresql" and not caseless:
        return col.ilike(pattern, escape="\\")
    return col.like(pattern, escape="\\")  # SQLite LIKE is case-insensitive for ASCII


def _has_table(s: Session, name: str) -> bool:
    found = s.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": name},
    ).first()
    return found is not None


def _search(s: Session, phrase: str, limit: int | None) -> list[str]:
    dialect = s.get_bind().dialect.name
    fts = dialect == "sqlite" and _has_table(s, FTS_TABLE)
    bigrams = dialect == "sqlite" and _has_table(s, BIGRAM_TABLE)
    simplified = _simplified(phrase)
    if limit is not None and limit <= PROBE_ROWS // 4 and _probe_agrees(simplified, dialect, fts):
        found = list(s.scalars(probe_query(phrase, dialect, limit=limit)))
        if len(found) >= limit:
            return found
    query = search_query(phrase, dialect, limit=limit, fts=fts, bigrams=bigrams)
    return list(s.scalars(query))
