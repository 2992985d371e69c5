"""Search that scales (issue 12, migration 0003), on both engines: the probe of the newest
articles and the indexed step (trigram, bigram, scan) return exactly what a plain substring
scan in Python returns, newest first, limit honoured; the bigram index follows inserts,
updates and deletes; migration 0003 upgrades a 0002 database with data and back down."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import inspect, text

import pipelines.store as db
from pipelines.store.search import PROBE_ROWS
from tests.conftest_db import plain_record

# Two words in most articles (found by the probe), two in a few old ones (found by an
# index), in the texts below; the traditional forms are the search input too.
FREQUENT_2, RARE_2 = "投资", "鳄鱼"
FREQUENT_4, RARE_4 = "扩大投资", "鳄鱼湖畔"


def _record(n: int) -> dict:
    paragraphs = [f"第{n}条新闻。厚街镇举办活动"]
    if n % 4:
        paragraphs.append("今年积极扩大投资。")
    if n % 97 == 5:  # three old articles: n = 5, 102, 199
        paragraphs.append("游客来到鳄鱼湖畔。")
    if n == 7:
        paragraphs.append("GDP增长")
    return plain_record(n, text="\n".join(paragraphs))


RECORDS = [_record(n) for n in range(PROBE_ROWS + 60)]


def _expected(phrase: str, limit: int | None) -> list[str]:
    """The reference: a substring test of the simplified title and text in Python."""
    simplified = db.to_simplified(phrase)
    hits = [
        r
        for r in RECORDS
        if any(
            simplified.lower() in (db.to_simplified(r[f]) or "").lower() for f in ("title", "text")
        )
    ]
    hits.sort(key=lambda r: r["url"])
    hits.sort(key=lambda r: datetime.fromisoformat(r["published_at"]), reverse=True)
    return [r["url"] for r in hits][:limit]


@pytest.fixture
def filled(store, migrated_engine):
    for i in range(0, len(RECORDS), 100):
        store.save(RECORDS[i : i + 100], None)
    return migrated_engine


PHRASES = [
    FREQUENT_2,  # probe (two characters)
    "投資",  # traditional input
    RARE_2,  # bigram index
    "鱷魚",
    FREQUENT_4,  # probe (trigram length)
    RARE_4,  # trigram index
    "鱷魚湖畔",
    "动\n今年积",  # spans two paragraphs
    "镇举办活",  # spans words
    "活动今年",  # not there: the paragraphs are joined by a newline
    "厚街镇举办活动\n今年积极扩大投资。\n游客来到鳄鱼湖畔。",  # longer than any paragraph
    "号第",  # not there: title and text are separate
    "gd",  # letters: either case, through the bigram index
    "Gdp增",
    "鳄",  # one character: the scan
    "龙舟",  # nowhere
]


@pytest.mark.parametrize("limit", [50, 3, None])
def test_every_path_returns_exactly_the_substring_matches_newest_first(filled, limit):
    for phrase in PHRASES:
        expected = _expected(phrase, limit)
        assert db.search(filled, phrase, limit=limit) == expected, phrase
    assert len(_expected(FREQUENT_2, None)) > 150  # the probe fills a page
    assert len(_expected(RARE_2, None)) == 3  # ... and cannot find these


def test_the_bigram_index_follows_inserts_updates_and_deletes(store, migrated_engine):
    store.save([plain_record(1, text="龙舟比赛。"), plain_record(2)], None)
    assert db.search(migrated_engine, "龙舟") == [plain_record(1)["url"]]
    with migrated_engine.begin() as conn:  # as the writer does for a new version
        conn.execute(
            text("UPDATE articles SET text = :t, text_simplified = :t WHERE url = :u"),
            {"t": "龙灯表演。", "u": plain_record(1)["url"]},
        )
    assert db.search(migrated_engine, "龙舟") == []
    assert db.search(migrated_engine, "灯表") == [plain_record(1)["url"]]
    with migrated_engine.begin() as conn:
        conn.execute(text("UPDATE articles SET current_version_id = NULL"))
        conn.execute(text("DELETE FROM anomalies"))
        conn.execute(text("DELETE FROM images"))
        conn.execute(text("DELETE FROM article_versions"))
        conn.execute(text("DELETE FROM captures"))
        conn.execute(text("DELETE FROM articles WHERE url = :u"), {"u": plain_record(1)["url"]})
    assert db.search(migrated_engine, "灯表") == []
    assert db.search(migrated_engine, "举办") == [plain_record(2)["url"]]


def _search_objects(engine) -> set[str]:
    insp = inspect(engine)
    names = {i["name"] for i in insp.get_indexes("articles")}
    if engine.dialect.name == "sqlite":
        names |= set(insp.get_table_names())
    return names & {
        "ix_articles_search_order",
        "bigram_articles_simplified",
        "articles_fts_bigrams",
    }


def test_migration_0003_upgrades_a_0002_database_with_data_and_back(db_url):
    from crawler.config import load_towns

    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine, "0002")
        with db.RecordStore(engine, towns=load_towns()) as store:
            store.save([plain_record(1), plain_record(2, text="龙舟比赛。GDP")], None)
        assert _search_objects(engine) == set()
        db.upgrade(engine)
        want = {"ix_articles_search_order"} | (
            {"articles_fts_bigrams"}
            if engine.dialect.name == "sqlite"
            else {"bigram_articles_simplified"}
        )
        assert _search_objects(engine) == want
        db.check_models(engine)  # alembic check: nothing the models disagree with
        # The bigram index was filled from the existing rows.
        assert db.search(engine, "龙舟") == [plain_record(2)["url"]]
        assert db.search(engine, "gd") == [plain_record(2)["url"]]
        assert db.search(engine, "举办") == [plain_record(1)["url"]]
        db.downgrade(engine, "0002")
        assert _search_objects(engine) == set()
        with db.RecordStore(engine, towns=load_towns()) as store:  # the triggers are gone too
            store.save([plain_record(3)], None)
        db.upgrade(engine)
        assert db.search(engine, "举办") == [plain_record(3)["url"], plain_record(1)["url"]]
    finally:
        engine.dispose()
