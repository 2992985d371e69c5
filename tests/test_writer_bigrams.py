"""`RecordStore.writer_bigrams` (`pipelines.store.bigrams`): the SQLite bigram index filled by
the writer holds exactly what the trigger of migration 0003 puts in it, and the trigger is
there again after every batch for every other write."""

from __future__ import annotations

import random
import re
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from pipelines.store import RecordStore, ensure_schema, make_engine, search
from pipelines.store import bigrams as bigrams_module
from pipelines.store.bigrams import BIGRAM_INSERT_TRIGGER, WriterBigrams, bigram_tokens
from tests.conftest_db import capture_for, interview_record, plain_record

TEXTS = [
    "第1条新闻的正文。\n厚街镇举办活动。",
    "ABC Mixed Case 厚街 ÄÖÜ ÉCOLE",  # SQLite's lower() folds ASCII only
    "",
    "x",
    "emoji 😀 and 𠀀 astral",
    "line\r\nbreaks\tand  spaces",
]


def records() -> list[dict]:
    out = [plain_record(n, text=t) for n, t in enumerate(TEXTS, start=1)]
    untitled = plain_record(50, text="无标题的文章")
    untitled["title"] = None
    out.append(untitled)
    out.append(interview_record())
    return out


def index_of(path) -> tuple[list, str | None]:
    """The bigram index's content, term by term (fts5vocab), and the insert trigger's SQL."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, 'articles_fts_bigrams', 'instance')"
        )
        terms = conn.execute("SELECT term, doc FROM temp.v ORDER BY term, doc").fetchall()
        trigger = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
            (BIGRAM_INSERT_TRIGGER,),
        ).fetchone()
        conn.execute(
            "INSERT INTO articles_fts_bigrams(articles_fts_bigrams) VALUES ('integrity-check')"
        )
    return terms, trigger[0] if trigger else None


def test_the_writer_fills_the_bigram_index_as_its_trigger_does(tmp_path):
    results = {}
    for writer_bigrams in (False, True):
        path = tmp_path / f"{writer_bigrams}.sqlite"
        with RecordStore(f"sqlite:///{path}") as store:
            ensure_schema(store.engine)
            store.writer_bigrams = writer_bigrams
            store.save(records()[:4])
            store.save(records()[4:])
            # a changed article is an UPDATE: the update trigger keeps the index in step
            changed = plain_record(1, text="改过的正文", capture=capture_for(1, record_id="<x>"))
            changed["capture"]["fetched_at"] = "2026-11-23T00:15:00Z"
            assert store.save([changed])["changed"] == 1
            hits = [search(store.engine, w) for w in ("正文", "厚街", "ab", "😀")]  # bigrams
        results[writer_bigrams] = (index_of(path), hits)
    (terms, trigger), hits = results[True]
    assert terms and all(hits[:3])
    assert trigger is not None  # back after every batch
    assert results[True] == results[False]


@pytest.mark.parametrize("text", TEXTS)
def test_bigram_tokens_equal_the_trigger_sql(tmp_path, text):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ensure_schema(engine)
    engine.dispose()
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        sql = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = ?", (BIGRAM_INSERT_TRIGGER,)
        ).fetchone()[0]
        expr = sql[sql.index("VALUES (new.id,") + len("VALUES (new.id,") : sql.rindex(")")]
        for title in ("Title 标题", None):
            row = conn.execute(
                f"SELECT {expr.replace('new.', 's.')} FROM "
                "(SELECT ? AS title_simplified, ? AS text_simplified) AS s",
                (title, text),
            ).fetchone()
            assert bigram_tokens(title, text) == row[0]


def test_a_trigger_other_than_migration_0003s_is_left_to_do_its_work(tmp_path):
    path = tmp_path / "db.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    engine.dispose()
    with sqlite3.connect(path) as conn:
        sql = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = ?", (BIGRAM_INSERT_TRIGGER,)
        ).fetchone()[0]
        conn.execute(f"DROP TRIGGER {BIGRAM_INSERT_TRIGGER}")
        # the same tokens, upper-cased by SQL: another trigger text, the same index
        conn.execute(
            sql.replace("group_concat(hex(", "upper(group_concat(hex(").replace(
                "' ') FROM", "' ')) FROM"
            )
        )
        changed = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = ?", (BIGRAM_INSERT_TRIGGER,)
        ).fetchone()[0]
    assert changed != sql
    with RecordStore(f"sqlite:///{path}") as store:
        store.writer_bigrams = True
        with Session(store.engine) as s, s.begin():
            bigrams = WriterBigrams(s)
            bigrams.before_flush()
            assert bigrams.trigger_sql is None  # not dropped
        store.save(records())
    terms, trigger = index_of(path)
    assert trigger == changed and terms


def test_migration_0003s_trigger_is_the_one_the_writer_replaces(tmp_path):
    with RecordStore(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        ensure_schema(store.engine)
        with Session(store.engine) as s, s.begin():
            bigrams = WriterBigrams(s)
            bigrams.before_flush()
            assert bigrams.trigger_sql is not None
            gone = s.scalar(
                text("SELECT count(*) FROM sqlite_master WHERE name = :n"),
                {"n": BIGRAM_INSERT_TRIGGER},
            )
            assert gone == 0
            bigrams.after_flush([])
            back = s.scalar(
                text("SELECT count(*) FROM sqlite_master WHERE name = :n"),
                {"n": BIGRAM_INSERT_TRIGGER},
            )
            assert back == 1


def _tokens_of_whole_string(title: str | None, text: str | None) -> str:
    """`bigram_tokens` as it was first written: the hex of the whole string, cut into
    characters by their UTF-8 lead bytes."""
    folded = ((title or "") + "\n" + (text or "")).encode("utf-8").lower()
    chars = re.findall(r"[0-7C-F][0-9A-F](?:[89AB][0-9A-F])*", folded.hex().upper())
    return " ".join([a + b for a, b in zip(chars, chars[1:], strict=False)] + [chars[-1]])


@pytest.mark.parametrize("kept", [bigrams_module._HEX_KEPT, 3])
def test_bigram_tokens_from_the_character_table_equal_the_whole_string_hex(monkeypatch, kept):
    monkeypatch.setattr(bigrams_module, "_HEX", bigrams_module._Hex())
    monkeypatch.setattr(bigrams_module, "_HEX_KEPT", kept)
    rnd = random.Random(15)
    alphabet = "aZ09 \n\t厚街東莞ÄßİẞΣ😀\x00\u0301\u200b" + "".join(map(chr, range(0x20, 0x7F)))
    texts = [
        *TEXTS,
        "",
        None,
        *("".join(rnd.choices(alphabet, k=rnd.randint(1, 60))) for _ in range(300)),
    ]
    for title in ("Title 标题", None, "", "É"):
        for body in texts:
            assert bigram_tokens(title, body) == _tokens_of_whole_string(title, body)
    assert len(bigrams_module._HEX) <= kept


def _tokens_of_pairs(title: str | None, text: str | None) -> str:
    """`bigram_tokens` as it was before the doubled-hex join: each character's hex, the
    pairs of neighbours joined by spaces, the last character alone."""
    chars = [c.encode("utf-8").lower().hex().upper() for c in (title or "") + "\n" + (text or "")]
    return " ".join([a + b for a, b in zip(chars, chars[1:], strict=False)] + [chars[-1]])


# ASCII (letters of both cases, digits, controls, spaces), Latin-1 and other BMP letters,
# CJK, combining marks, and astral characters (4-byte UTF-8); no lone surrogates (no UTF-8).
_CHARS = st.one_of(
    st.characters(min_codepoint=0, max_codepoint=0x7F),
    st.sampled_from("厚街東莞ÄßİẞΣ\u3000\u200b\u0301\n\r\t😀𠀀"),
    st.characters(blacklist_categories=("Cs",)),
)


@settings(max_examples=400, deadline=None)
@given(
    title=st.one_of(st.none(), st.text(_CHARS, max_size=12)),
    body=st.one_of(st.none(), st.text(_CHARS, max_size=80)),
)
def test_bigram_tokens_equal_the_pairs_of_character_hex(title, body):
    assert bigram_tokens(title, body) == _tokens_of_pairs(title, body)
    assert bigram_tokens(title, body) == _tokens_of_whole_string(title, body)
