"""Search that scales (issue 12): either script finds either script, one- and two-character
words on both engines, PostgreSQL on its trigram indexes at a realistic size, and the
planner statistics refreshed after a run that wrote many rows."""

from __future__ import annotations

import pytest
from sqlalchemy import text

import pipelines.store as db
from pipelines.store.search import search_query
from pipelines.store.stats import ANALYZE_AFTER_ROWS
from tests.conftest_db import interview_record, plain_record
from tests.corpus import RARE_PHRASE, Corpus


def _urls(*ns: int) -> list[str]:
    return [plain_record(n)["url"] for n in ns]


def test_either_script_finds_either_script(store, migrated_engine):
    interview = interview_record()  # served in traditional script
    store.save([interview, plain_record(1), plain_record(2)], None)  # simplified script
    # traditional input, simplified pages (newest first)
    assert db.search(migrated_engine, "厚街鎮舉辦活動") == _urls(2, 1)
    # simplified input, traditional page; and the traditional input itself
    assert db.search(migrated_engine, "积极扩大有效投资") == [interview["url"]]
    assert db.search(migrated_engine, "積極擴大有效投資") == [interview["url"]]
    assert db.search(migrated_engine, "两会会客厅") == [interview["url"]]  # title


def test_one_and_two_character_words_on_both_engines(store, migrated_engine):
    interview = interview_record()
    store.save([interview, plain_record(1), plain_record(2)], None)
    # 投资 is in the interview only (as 投資); 举办 in the plain records only (simplified).
    assert db.search(migrated_engine, "投资") == [interview["url"]]
    assert db.search(migrated_engine, "投資") == [interview["url"]]
    assert db.search(migrated_engine, "舉辦") == _urls(2, 1)
    assert db.search(migrated_engine, "举办", limit=1) == _urls(2)
    assert db.search(migrated_engine, "謝") == [interview["url"]]  # one character
    assert db.search(migrated_engine, "鳄鱼") == []
    if migrated_engine.dialect.name == "sqlite":
        # Why search() does not MATCH short words: FTS5 trigrams silently find nothing.
        with migrated_engine.connect() as conn:
            raw = conn.execute(
                text("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH '\"举办\"'")
            ).scalar()
        assert raw == 0


def test_latin_letters_match_in_any_case_and_wildcards_are_literal(store, migrated_engine):
    store.save(
        [
            plain_record(1, text="全镇GDP增长6%。\n厚街镇举办活动。"),
            plain_record(2, text="100%_完成。"),
        ],
        None,
    )
    assert db.search(migrated_engine, "gd") == _urls(1)  # the scan path
    assert db.search(migrated_engine, "Gdp增长") == _urls(1)  # trigram path
    assert db.search(migrated_engine, "6%") == _urls(1)
    assert db.search(migrated_engine, "%_") == _urls(2)
    assert db.search(migrated_engine, "0%_完") == _urls(2)
    assert db.search(migrated_engine, "_") == _urls(2)


# --------------------------------------------------------------------------- query plans


def _fill_articles(engine, n: int, rare_every: int) -> int:
    """`n` articles of synthetic text (tests/corpus.py); every `rare_every`-th contains
    RARE_PHRASE. Written as plain rows: the store's own writer is the benchmark's job."""
    corpus = Corpus(seed=12)
    rows = []
    for i in range(n):
        a = corpus.article(i, rare=i % rare_every == 0)
        url = f"https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_{i}.html"
        rows.append({**a, "url": url, "h": f"sha256:{i}"})
    with engine.begin() as conn:
        conn.execute(
            text(
                # Only the searched columns: indexing `title` and `text` too doubles the
                # time and says nothing more about the plan.
                "INSERT INTO articles (url, title_simplified, text_simplified, published_at,"
                " content_hash, first_seen_at, last_seen_at, content_changed_at,"
                " last_checked_at) VALUES (:url, :title, :text, :published_at, :h,"
                " :published_at, :published_at, :published_at, :published_at)"
            ),
            rows,
        )
    return len(range(0, n, rare_every))


def _plan(engine, phrase: str, limit: int | None = 50) -> str:
    query = search_query(phrase, engine.dialect.name, limit=limit)
    sql = str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":  # psycopg reads % as a placeholder
            sql = sql.replace("%", "%%")
        rows = conn.exec_driver_sql(prefix + sql).all()
    return "\n".join(str(r[-1]) for r in rows)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_postgres_search_uses_the_trigram_indexes_at_scale(migrated_engine):
    from pipelines.store.stats import refresh_statistics

    expected = _fill_articles(migrated_engine, 3000, rare_every=300)
    refresh_statistics(migrated_engine)
    assert db.to_simplified("鱷魚湖畔") == RARE_PHRASE
    for phrase in (RARE_PHRASE, "鱷魚湖畔"):  # simplified and traditional input
        plan = _plan(migrated_engine, phrase)
        assert "Bitmap Index Scan on trgm_articles_text_simplified" in plan, plan
        assert "Bitmap Index Scan on trgm_articles_title_simplified" in plan, plan
        assert "Seq Scan" not in plan, plan
        assert len(db.search(migrated_engine, phrase)) == expected == 10


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_search_uses_the_fts_index(store, migrated_engine):
    store.save([plain_record(1)], None)
    assert "VIRTUAL TABLE INDEX" in _plan(migrated_engine, "厚街镇举办")
    assert "articles_fts_bigrams VIRTUAL TABLE" in _plan(migrated_engine, "举办")  # bigrams
    assert "VIRTUAL TABLE" not in _plan(migrated_engine, "举")  # the instr() scan


# --------------------------------------------------------------------------- statistics


def _analyzed(engine) -> bool:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            has_stat = conn.execute(
                text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
            ).first()
            return bool(
                has_stat
                and conn.execute(
                    text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'articles'")
                ).scalar()
            )
        return bool(
            conn.execute(
                text("SELECT count(*) FROM pg_stats WHERE tablename = 'articles'")
            ).scalar()
        )


def test_a_run_that_wrote_many_rows_refreshes_the_statistics(store, migrated_engine):
    store.start_run("small")
    store.save([plain_record(n) for n in range(1, 3)], "small")
    store.finish_run("small", "finished")
    assert store.rows_written < ANALYZE_AFTER_ROWS
    assert not _analyzed(migrated_engine)  # a small run leaves the planner alone

    store.start_run("big")
    n = ANALYZE_AFTER_ROWS // 3 + 10  # a capture, a version and an article each
    store.save([plain_record(i) for i in range(10, 10 + n)], "big")
    assert store.rows_written >= ANALYZE_AFTER_ROWS
    store.finish_run("big", "finished")
    assert _analyzed(migrated_engine)
