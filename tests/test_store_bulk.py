"""`RecordStore.bulk_inserts` (`pipelines.store.bulk`): new articles written as plain rows, one
executemany per table, give the very database the ORM path gives: every row of every table,
ids included, on SQLite and PostgreSQL, and on SQLite the same trigram and bigram search
indexes; batches that mix new articles with stored ones, repeated captures and a page seen
twice in one batch included."""

from __future__ import annotations

import sqlite3
import uuid

from crawler.config import load_towns
from pipelines.store import RecordStore, ensure_schema, search
from pipelines.store.batch import Batch
from pipelines.store.bulk import BULK_PAGE_CACHE_KIB, plan
from pipelines.store.models import Base
from pipelines.store.trigrams import TRIGRAM_INSERT_TRIGGER
from tests.conftest_db import RUN_COLUMNS, capture_for, dump, interview_record, plain_record


def odd_record(n: int) -> dict:
    """A record with what the tables cannot keep as given (kept in `extra`) and with the
    interview's edge cases: an unnamed guest, a turn out of any section, a bool section."""
    record = interview_record(n)
    record["url"] = f"https://www.dg.gov.cn/humen/xwzx/content/post_{n}.html"
    record["town"] = "humen"
    record["published_at"] = "2025-02-27T13:05:00Z"  # another offset: kept verbatim
    record["images"] = [{"src": "a.jpg"}, "not a dict", {"src": None, "alt": "x\x00y"}]
    record["unknown_key"] = {"nested": [1, 2]}
    record["text"] = "正文\x00有NUL"
    record["interview"]["guests"] = [
        {"name": "  謝衛東 ", "title": "書記"},
        {"name": "", "title": "无名"},
        {"name": "黃某某", "title": None},
    ]
    record["interview"]["turns"].append({"speaker": "黃某某", "role": "guest", "text": "好"})
    record["interview"]["turns"].append(
        {"speaker": "主持人", "role": "host", "text": "问", "section": True}
    )
    record["interview"]["turns"].append(
        {"speaker": "謝衛東", "role": "guest", "text": "答", "section": 7}
    )
    return record


def one_guest(n: int) -> dict:
    """An interview whose single guest speaks under a shorter name (the guest's turn is
    still theirs), with a guest already named by another record (one people row)."""
    record = interview_record(n)
    record["interview"]["turns"][1]["speaker"] = "謝"
    return record


def batches() -> list[list[dict]]:
    """Batches as a crawl or a reindex of several crawls gives them."""
    changed = plain_record(2, text="改过的正文", capture=capture_for(2, record_id="<urn:x:2b>"))
    changed["capture"]["fetched_at"] = "2026-11-23T00:15:00Z"
    older = plain_record(5, text="更早的正文", capture=capture_for(5, record_id="<urn:x:5a>"))
    older["capture"]["fetched_at"] = "2026-11-21T00:15:00Z"
    no_capture = plain_record(9)
    no_capture.pop("capture")
    return [
        [plain_record(n) for n in range(1, 5)] + [interview_record(), odd_record(10)],
        [
            plain_record(1),  # a capture stored already: unchanged
            plain_record(5),
            changed,  # a new version of a stored article
            plain_record(6),
            plain_record(6),  # the same capture twice in one batch
            one_guest(11),
            older,  # a second capture of an article new in this batch
            plain_record(7, capture=capture_for(7, digest="sha1:SAME")),
            plain_record(1),
        ],
        [plain_record(8), odd_record(12), no_capture],
    ]


def fts_terms(path) -> dict[str, list]:
    """Both SQLite search indexes, term by term, checked for integrity."""
    out = {}
    with sqlite3.connect(path) as conn:
        for table in ("articles_fts", "articles_fts_bigrams"):
            conn.execute(
                f"CREATE VIRTUAL TABLE temp.v_{table} USING fts5vocab(main, '{table}', 'instance')"
            )
            out[table] = conn.execute(
                f"SELECT * FROM temp.v_{table} ORDER BY 1, 2, 3, 4"
            ).fetchall()
            conn.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
        out["triggers"] = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
        ).fetchall()
    return out


def raw_rows(path) -> dict[str, list[tuple]]:
    """Every row of every modelled table as SQLite stores it (`sqlite3` without type
    conversion: the very text of a timestamp or a JSON value), run ids by their order."""
    out = {}
    with sqlite3.connect(path) as conn:
        runs = {
            run_id: f"run{i}"
            for i, (run_id,) in enumerate(conn.execute("SELECT id FROM crawl_runs ORDER BY id"))
        }
        for table in Base.metadata.sorted_tables:
            cols = [
                c.name
                for c in table.columns
                if table.name != "crawl_runs" or c.name not in RUN_COLUMNS
            ]
            order = ", ".join(c.name for c in table.primary_key.columns)
            rows = conn.execute(f"SELECT {', '.join(cols)} FROM {table.name} ORDER BY {order}")
            out[table.name] = [tuple(runs.get(v, v) for v in row) for row in rows]
    return out


def masked(rows: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """`rows` with the times of the article saved without a capture (the time it was saved)
    left out."""
    url = plain_record(9)["url"]
    rows["articles"] = [r[:15] if r[1] == url else r for r in rows["articles"]]
    return rows


def write(url: str, bulk: bool) -> tuple[list[dict], list[int], list[list[str]]]:
    """Counts and rows written of each batch, and what a few searches find."""
    with RecordStore(url, towns=load_towns()) as store:
        ensure_schema(store.engine)
        store.writer_bigrams = True
        store.bulk_inserts = bulk
        run_id = str(uuid.uuid4())
        store.start_run(run_id, {}, kind="reindex")
        counts, written = [], []
        for batch in batches():
            before = store.rows_written
            counts.append(store.save(batch, run_id))
            written.append(store.rows_written - before)
        hits = [search(store.engine, w) for w in ("正文", "厚街镇", "第3条", "谈感想", "ab")]
        return counts, written, hits


def test_bulk_inserts_write_the_same_database(two_urls):
    orm, bulk = two_urls
    a, b = write(orm, False), write(bulk, True)
    assert a[0][0] == {"new": 6, "changed": 0, "unchanged": 0}
    assert a[0][1] == {"new": 4, "changed": 2, "unchanged": 3}
    assert a[0] == b[0] and a[2] == b[2]  # counts, search hits
    assert all(a[2][:4])
    # Rows written: the same, but for the page captured twice in the second batch, whose
    # article the bulk rows insert and its second capture then updates (one row more).
    assert b[1] == [a[1][0], a[1][1] + 1, a[1][2]]
    rows_a, rows_b = masked(dump(orm)), masked(dump(bulk))
    assert rows_a["interview_turns"] and rows_a["images"] and rows_a["people"]
    assert any(row[-1] for row in rows_a["article_versions"])  # `extra` of the odd records
    assert rows_a == rows_b
    if orm.startswith("sqlite"):
        fts_a, fts_b = (
            fts_terms(orm.removeprefix("sqlite:///")),
            fts_terms(bulk.removeprefix("sqlite:///")),
        )
        assert fts_a["articles_fts"] and fts_a["articles_fts_bigrams"]
        assert any(name == TRIGRAM_INSERT_TRIGGER for name, _ in fts_b["triggers"])
        assert fts_a == fts_b
        raw_a, raw_b = (
            masked(raw_rows(orm.removeprefix("sqlite:///"))),
            masked(raw_rows(bulk.removeprefix("sqlite:///"))),
        )
        assert any(isinstance(row[-1], str) for row in raw_a["article_versions"])  # JSON text
        assert raw_a == raw_b


def test_plan_cuts_a_batch_into_runs_of_new_and_stored_articles(sqlite_url):
    with RecordStore(sqlite_url) as store:
        ensure_schema(store.engine)
        store.save([plain_record(1)])
        with store._session() as s:
            again = [plain_record(n, capture=capture_for(n, record_id=f"<{n}b>")) for n in (1, 2)]
            records = [plain_record(2), plain_record(3), plain_record(1), *again]
            records += [plain_record(4), plain_record(4)]
            runs = plan(records, Batch.load(s, records))
    shape = [(r.new, [x["url"][-7:] for x in r.records], r.skipped) for r in runs]
    assert shape == [
        (True, ["_2.html", "_3.html"], 1),  # and the capture of 1 stored already: skipped
        (False, ["_1.html", "_2.html"], 0),  # stored; a capture of a new-in-batch one
        (True, ["_4.html"], 1),  # then its capture again: skipped
    ]


def test_bulk_batches_raise_the_page_cache_of_sqlite_only(sqlite_url):
    """`_page_cache`: a bulk batch leaves its connection a larger page cache; one set larger
    already (or in pages) is kept."""
    with RecordStore(sqlite_url) as store:
        ensure_schema(store.engine)
        store.bulk_inserts = True
        store.save([plain_record(1)])
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -BULK_PAGE_CACHE_KIB
            conn.exec_driver_sql("PRAGMA cache_size = -65536")
        store.save([plain_record(2)])
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -65536
