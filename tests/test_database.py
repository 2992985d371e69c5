"""pipelines.store and DatabasePipeline on SQLite and PostgreSQL: URLs and engines, the errors an
operator sees, schema states, RecordStore (versions, idempotence, interview structure, known
articles, revisits), search, the views, and DatabasePipeline."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from pipelines import store as db
from pipelines.database import DatabasePipeline
from pipelines.store import (
    BadDatabaseUrlError,
    DatabaseError,
    DatabaseReadOnlyError,
    DatabaseUnreachableError,
    RecordStore,
    SchemaTooNewError,
    schema,
)
from pipelines.store.models import (
    Article,
    ArticleVersion,
    Capture,
    CrawlRun,
    Person,
    SiteColumn,
    Town,
)
from tests.conftest_db import (
    GUEST_A1,
    GUEST_A2,
    capture_for,
    contract,
    exported,
    interview_record,
    plain_record,
    row_counts,
)

ROOT = Path(__file__).resolve().parent.parent


def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert message and "\n" not in message and "Traceback" not in message, message
    return message


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgres://u@db.example/dg", "postgresql+psycopg"),
        ("postgresql://u:pw@db.example:5433/dg", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db.example/dg", "postgresql+psycopg"),
        ("sqlite:///dgarchive.sqlite", "sqlite"),
        ("sqlite:////var/lib/dgarchive/db.sqlite", "sqlite"),
    ],
)
def test_urls_are_normalized_to_psycopg3(given, driver):
    assert db.normalize_url(given).drivername == driver


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not a url",
        "mysql://u:hunter2@db.example/dg",
        "postgresql+psycopg2://u:hunter2@db.example/dg",
        "postgresql://u:hunter2@db.example:port/dg",
        "postgresql://u:hunter2@db.example",
        "sqlite://host/dgarchive.sqlite",
    ],
)
def test_malformed_or_unsupported_urls_are_one_line_usage_errors(bad):
    with pytest.raises(BadDatabaseUrlError) as info:
        db.check_database(bad)
    message = one_line(info.value)
    assert "hunter2" not in message
    assert "sqlite:///" in message or "postgresql://" in message  # says what would work


def test_default_url_is_a_file_in_the_working_directory(tmp_path):
    assert db.default_db_url(tmp_path) == f"sqlite:///{tmp_path.resolve()}/dgarchive.sqlite"


def test_sqlite_engine_creates_its_directory_and_sets_pragmas(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'x.sqlite'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    finally:
        engine.dispose()
    assert (tmp_path / "a" / "b").is_dir()


def test_foreign_keys_are_enforced(migrated_engine):
    with pytest.raises(Exception, match="(?i)foreign key"):
        with migrated_engine.begin() as conn:
            conn.execute(
                text("INSERT INTO site_columns (town_id, path, name) VALUES (999, 'x/', 'x')")
            )


# --------------------------------------------------------------------------- errors


def test_unreachable_server_is_named_without_password():
    port = closed_port()
    with pytest.raises(DatabaseUnreachableError) as info:
        db.check_database(f"postgresql://user:s3cret@127.0.0.1:{port}/x")
    assert one_line(info.value) == (
        f"database unreachable: postgresql://user@127.0.0.1:{port}/x (connection refused)"
    )


@pytest.mark.postgres
def test_missing_postgres_database_is_unreachable(pg_cluster):
    with pytest.raises(DatabaseUnreachableError) as info:
        db.check_database(pg_cluster.url_for("no_such_db"))
    assert 'database "no_such_db" does not exist' in one_line(info.value)


def test_sqlite_path_that_is_a_directory_is_unreachable(tmp_path):
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(DatabaseUnreachableError) as info:
        db.check_database(f"sqlite:///{tmp_path / 'dir.sqlite'}")
    assert one_line(info.value).startswith("database unreachable: sqlite:///")


def test_export_does_not_create_a_missing_database(tmp_path):
    from crawler.exporting import run_export

    with pytest.raises(DatabaseUnreachableError, match=r"\(no such file\)"):
        run_export(f"sqlite:///{tmp_path / 'missing.sqlite'}", "jsonl", None, None)
    assert not (tmp_path / "missing.sqlite").exists()


def test_sqlite_opened_read_only(tmp_path):
    url = f"sqlite:///{tmp_path / 'ro.sqlite'}"
    db.upgrade(url)
    with RecordStore(url) as writer:
        writer.save([plain_record(1)], None)

    ro = f"{url}?mode=ro"
    with pytest.raises(DatabaseReadOnlyError) as info:
        db.check_database(ro)
    assert one_line(info.value) == (
        f"database is read-only: {ro} (attempt to write a readonly database)"
    )
    reader = RecordStore(ro)
    try:
        assert [r["url"] for r in reader.iter_records()] == [plain_record(1)["url"]]
        with pytest.raises(DatabaseReadOnlyError):
            reader.save([plain_record(2)], None)
    finally:
        reader.close()


_AS_NOBODY = """
import sys
from pipelines.store import DatabaseError, check_database
try:
    check_database(sys.argv[1])
except DatabaseError as exc:
    print(type(exc).__name__, exc)
else:
    print("no error")
"""


def _run_unprivileged(url: str) -> str:
    """check_database(url) in a process that file permissions apply to (root ignores them)."""
    if os.geteuid() != 0:
        try:
            db.check_database(url)
        except DatabaseError as exc:
            return f"{type(exc).__name__} {exc}"
        return "no error"
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot drop privileges")
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    probe = subprocess.run(
        [*cmd, "-c", "import pipelines.database"], cwd=ROOT, capture_output=True, text=True
    )
    if probe.returncode != 0:
        pytest.skip(f"user nobody cannot run this Python: {probe.stderr.strip()[-200:]}")
    res = subprocess.run(
        [*cmd, "-c", _AS_NOBODY, url], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


@pytest.fixture
def world_readable_dir():
    """A directory outside pytest's private tmp (mode 700), so `nobody` can reach it."""
    path = Path(tempfile.mkdtemp(prefix="dgarchive-ro-"))
    path.chmod(0o755)
    yield path
    path.chmod(0o755)
    for child in path.iterdir():
        child.chmod(0o644)
    shutil.rmtree(path)


def test_read_only_sqlite_file_and_directory(world_readable_dir):
    url = f"sqlite:///{world_readable_dir / 'db.sqlite'}"
    db.upgrade(url)
    (world_readable_dir / "db.sqlite").chmod(0o444)
    world_readable_dir.chmod(0o555)
    outcome = _run_unprivileged(url)
    assert outcome.startswith(f"DatabaseReadOnlyError database is read-only: {url} ("), outcome
    assert "\n" not in outcome


def test_new_sqlite_file_in_read_only_directory(world_readable_dir):
    world_readable_dir.chmod(0o555)
    url = f"sqlite:///{world_readable_dir / 'new.sqlite'}"
    outcome = _run_unprivileged(url)
    assert outcome.startswith(f"DatabaseReadOnlyError database is read-only: {url} ("), outcome


@pytest.mark.postgres
def test_read_only_postgres_database(pg_cluster, pg_database_url):
    db.upgrade(pg_database_url)
    name = pg_database_url.rsplit("/", 1)[1]
    pg_cluster.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    with pytest.raises(DatabaseReadOnlyError) as info:
        db.check_database(pg_database_url)
    assert one_line(info.value).startswith(f"database is read-only: {pg_database_url} (")


def test_schema_newer_than_the_code(migrated_engine, db_url):
    with migrated_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfacade99'"))
    assert db.schema_state(migrated_engine) == "ahead"
    for attempt in (
        lambda: db.ensure_schema(migrated_engine),
        lambda: db.check_database(db_url),
        lambda: db.upgrade(db_url),
    ):
        with pytest.raises(SchemaTooNewError) as info:
            attempt()
        message = one_line(info.value)
        assert "f00dfacade99" in message and db.head_revision() in message


def test_schema_behind_the_code(migrated_engine, monkeypatch):
    head = db.head_revision()
    monkeypatch.setattr(
        schema, "_script_revisions", lambda: (frozenset({head, "0002later"}), frozenset({"0002later"}))
    )
    assert db.schema_state(migrated_engine) == "behind"


def test_ensure_schema_creates_then_leaves_alone(db_engine):
    assert db.ensure_schema(db_engine) == "empty"
    assert db.schema_state(db_engine) == "current"
    assert db.ensure_schema(db_engine) == "current"
    db.check_database(db_engine.url.render_as_string(hide_password=False))


def test_a_statement_error_is_a_one_line_database_error(store, migrated_engine):
    with migrated_engine.begin() as conn:
        conn.execute(text("DROP VIEW guest_turns"))
        conn.execute(text("DROP VIEW interview_overview"))
        conn.execute(text("ALTER TABLE images RENAME TO images_gone"))
    with pytest.raises(DatabaseError) as info:
        store.save([interview_record()], None)
    assert "images" in one_line(info.value)
    assert row_counts_safe(migrated_engine, "articles") == 0  # the batch rolled back


def row_counts_safe(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()


# --------------------------------------------------------------------------- the store


def test_save_counts_and_is_idempotent(store, migrated_engine):
    records = [plain_record(1), plain_record(2), interview_record()]
    assert store.save(records, None) == {"new": 3, "changed": 0, "unchanged": 0}
    before = row_counts(migrated_engine)
    assert before["articles"] == 3 and before["article_versions"] == 3
    assert before["captures"] == 3

    # The very same captures again: nothing at all is added.
    assert store.save(records, None) == {"new": 0, "changed": 0, "unchanged": 3}
    assert row_counts(migrated_engine) == before


def test_new_capture_of_unchanged_content_adds_a_capture_only(store, migrated_engine):
    store.save([interview_record()], None)
    before = row_counts(migrated_engine)
    again = interview_record(
        capture=capture_for(
            3987862, record_id="<urn:uuid:again>", fetched_at="2026-12-01T00:00:00Z"
        )
    )
    # Whitespace and line-ending differences are not a change.
    again["text"] = again["text"].replace("\n", "\r\n  ") + "\n\n"
    assert store.save([again], None) == {"new": 0, "changed": 0, "unchanged": 1}
    after = row_counts(migrated_engine)
    assert after["captures"] == before["captures"] + 1
    assert {k: v for k, v in after.items() if k != "captures"} == {
        k: v for k, v in before.items() if k != "captures"
    }
    with migrated_engine.connect() as conn:
        seen = conn.execute(select(Article.first_seen_at, Article.last_seen_at)).one()
    assert (db.iso_utc(seen[0]), db.iso_utc(seen[1])) == (
        "2026-11-22T00:15:00Z",
        "2026-12-01T00:00:00Z",
    )


def test_changed_page_adds_a_version_and_updates_the_article(store, migrated_engine):
    first = interview_record()
    store.save([first], None)
    changed = interview_record(
        capture=capture_for(3987862, record_id="<urn:uuid:v2>", fetched_at="2026-12-01T00:00:00Z")
    )
    changed["title"] = "兩會會客廳|謝衛東:更正後的標題"
    changed["interview"]["turns"][1]["text"] += "\n新增的一段回答。"
    assert store.save([changed], None) == {"new": 0, "changed": 1, "unchanged": 0}

    with migrated_engine.connect() as conn:
        numbers = (
            conn.execute(select(ArticleVersion.number).order_by(ArticleVersion.number))
            .scalars()
            .all()
        )
        article = conn.execute(select(Article.title, Article.current_version_id)).one()
        current = conn.execute(
            select(ArticleVersion.number).where(ArticleVersion.id == article.current_version_id)
        ).scalar()
    assert numbers == [1, 2] and current == 2
    assert article.title == changed["title"]
    assert row_counts(migrated_engine)["interviews"] == 2  # each version keeps its structure
    assert [contract(r) for r in store.iter_records()] == [exported(changed)]


def test_an_older_capture_arriving_late_does_not_become_current(store):
    newer = plain_record(
        7, text="新版本", capture=capture_for(7, fetched_at="2026-12-02T00:00:00Z")
    )
    older = plain_record(
        7,
        text="旧版本",
        capture=capture_for(7, record_id="<urn:uuid:old>", fetched_at="2026-11-01T00:00:00Z"),
    )
    store.save([newer], None)
    assert store.save([older], None) == {"new": 0, "changed": 1, "unchanged": 0}
    assert [r["text"] for r in store.iter_records()] == ["新版本"]


def test_interview_structure_round_trips(store, migrated_engine):
    record = interview_record()
    store.save([record], None)
    assert [contract(r) for r in store.iter_records()] == [exported(record)]
    with migrated_engine.connect() as conn:
        guests = conn.execute(
            text(
                "SELECT p.name, g.title FROM interview_guests g JOIN people p ON p.id = g.person_id"
            )
        ).all()
        turns = conn.execute(
            text(
                "SELECT t.position, t.role, p.name, s.label FROM interview_turns t"
                " LEFT JOIN people p ON p.id = t.person_id"
                " LEFT JOIN interview_sections s ON s.id = t.section_id ORDER BY t.position"
            )
        ).all()
    assert [tuple(g) for g in guests] == [("謝衛東", "東莞市厚街鎮黨委書記")]
    assert [tuple(t) for t in turns] == [
        (0, "host", None, "關鍵詞1"),
        (1, "guest", "謝衛東", "關鍵詞1"),
        (2, "host", None, "關鍵詞2"),
        (3, "guest", "謝衛東", "關鍵詞2"),
    ]


def test_values_the_tables_would_alter_come_back_verbatim(store):
    record = plain_record(11)
    record["published_at"] = "2023-03-05T01:30:00+00:00"  # another offset
    record["images"] = [{"src": "https://www.dg.gov.cn/a.jpg"}]  # no alt
    record["byline"] = {"author": "记者 李明"}  # a key the schema does not know yet
    del record["anomalies"]  # a key the record lacks
    record["text"] = "含有\x00空字符的正文"  # PostgreSQL text cannot hold NUL
    store.save([record], None)
    assert [contract(r) for r in store.iter_records()] == [exported(record)]


def test_a_guest_is_one_person_across_interviews(store, migrated_engine):
    a = interview_record(1)
    b = interview_record(2)
    b["interview"]["guests"][0]["title"] = "厚街鎮鎮長"
    store.save([a], None)
    store.save([b], None)
    with migrated_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Person)).scalar() == 1
        name_simplified = conn.execute(select(Person.name_simplified)).scalar()
        titles = (
            conn.execute(text("SELECT title FROM interview_guests ORDER BY title")).scalars().all()
        )
    assert name_simplified == "谢卫东"
    assert titles == ["厚街鎮鎮長", "東莞市厚街鎮黨委書記"]


def test_towns_and_columns_come_from_the_configuration(store, migrated_engine):
    store.save([interview_record()], None)
    with migrated_engine.connect() as conn:
        town = conn.execute(select(Town.slug, Town.name, Town.site_name)).one()
        column = conn.execute(select(SiteColumn.path, SiteColumn.name, SiteColumn.feed_id)).one()
    assert tuple(town) == ("houjie", "厚街", "中国东莞厚街镇")
    assert tuple(column) == ("houjie/cjjs/tshj/", "图说厚街", 9149)


def test_the_store_reads_no_configuration_of_its_own(migrated_engine):
    """The town configuration is the caller's to pass: without it a new town is named by its
    slug, a new column by the record's column label, with no feed id."""
    record = interview_record()
    with RecordStore(migrated_engine) as bare:
        bare.save([record], None)
    with migrated_engine.connect() as conn:
        town = conn.execute(select(Town.slug, Town.name, Town.site_name)).one()
        column = conn.execute(select(SiteColumn.path, SiteColumn.name, SiteColumn.feed_id)).one()
    assert tuple(town) == ("houjie", "houjie", record["site"])
    assert tuple(column) == ("houjie/cjjs/tshj/", record["column"], None)


def test_runs_are_recorded(store, migrated_engine):
    store.start_run("run-1", {"site_root": "http://127.0.0.1:1/"})
    store.save([plain_record(1)], "run-1")
    store.finish_run("run-1", "finished", {"new_articles": 1})
    with migrated_engine.connect() as conn:
        run = conn.execute(select(CrawlRun)).one()
        capture_run = conn.execute(select(Capture.crawl_run_id)).scalar()
    assert (run.status, run.counters, run.args["site_root"]) == (
        "finished",
        {"new_articles": 1},
        "http://127.0.0.1:1/",
    )
    assert run.finished_at >= run.started_at
    assert capture_run == "run-1"


def test_known_articles_give_the_last_capture(store):
    store.save([plain_record(1, capture=capture_for(1, etag='"v1"'))], None)
    store.save([plain_record(2)], None)
    later = capture_for(
        1,
        record_id="<urn:uuid:later>",
        fetched_at="2026-11-30T08:00:00Z",
        digest="sha1:LATER",
        etag='"v2"',
    )
    store.save([plain_record(1, capture=later)], None)

    known = store.known_articles([plain_record(1)["url"], "https://www.dg.gov.cn/none.html"])
    assert list(known) == [plain_record(1)["url"]]
    assert known[plain_record(1)["url"]] | {"content_hash": None} == {
        "url": plain_record(1)["url"],
        "fetch_url": later["target_uri"],
        "target_uri": later["target_uri"],
        "fetched_at": "2026-11-30T08:00:00Z",
        "warc_record_id": "<urn:uuid:later>",
        "warc_filename": later["warc_filename"],
        "warc_offset": later["warc_offset"],
        "payload_digest": "sha1:LATER",
        "status": 200,
        "etag": '"v2"',
        "last_modified": None,
        "last_seen_at": "2026-11-30T08:00:00Z",
        "content_hash": None,
    }
    assert set(store.known_articles()) == {plain_record(1)["url"], plain_record(2)["url"]}


def test_revisits_update_last_seen_but_not_the_referenced_capture(store):
    url = plain_record(1)["url"]
    store.save([plain_record(1, capture=capture_for(1, etag='"v1"'))], None)
    revisit = {
        "warc_filename": "DGARCHIVE-20261205-00000-test.warc.gz",
        "warc_offset": 77,
        "warc_length": 300,
        "warc_record_id": "<urn:uuid:revisit>",
        "payload_digest": "sha1:DIGEST1",
        "fetched_at": "2026-12-05T00:00:00Z",
        "target_uri": capture_for(1)["target_uri"],
        "status": 304,
        "etag": '"v1b"',
    }
    assert store.record_revisit(url, revisit, None) is True
    assert store.record_revisit(url, revisit, None) is False  # already noted
    assert store.record_revisit("https://www.dg.gov.cn/unknown.html", revisit, None) is False
    known = store.known_articles([url])[url]
    assert known["warc_record_id"] == capture_for(1)["warc_record_id"]  # the response
    assert known["last_seen_at"] == "2026-12-05T00:00:00Z"
    assert known["etag"] == '"v1b"'  # the newest validator the server sent
    assert (
        list(store.iter_records())[0]["capture"]["warc_record_id"]
        == (capture_for(1)["warc_record_id"])
    )


def test_rows_written_counts_inserts(store):
    store.save([plain_record(1)], None)
    # capture, town, column, article, version (+ the run-less batch has no run row)
    assert store.rows_written >= 5
    before = store.rows_written
    store.save([plain_record(1)], None)
    assert store.rows_written == before


# --------------------------------------------------------------------------- search, views


def test_search_finds_an_interview_by_a_phrase_from_an_answer(store, migrated_engine):
    interview = interview_record()
    store.save([interview, plain_record(1), plain_record(2)], None)
    url = interview["url"]
    simplified = db.to_simplified("積極擴大有效投資")
    assert simplified == "积极扩大有效投资"  # the page is in traditional script
    assert db.search(migrated_engine, simplified) == [url]
    assert db.search(migrated_engine, "積極擴大有效投資") == [url]
    assert db.search(migrated_engine, "鍛长补短") == [url]  # mixed scripts
    assert db.search(migrated_engine, "投资") == [url]  # two characters: the LIKE path
    assert db.search(migrated_engine, "厚街镇举办活动") == [
        plain_record(2)["url"],  # newest first
        plain_record(1)["url"],
    ]
    assert db.search(migrated_engine, "厚街镇举办活动", limit=1) == [plain_record(2)["url"]]
    assert db.search(migrated_engine, "不存在的短语") == []
    assert db.search(migrated_engine, '100% "引号" _x') == []
    from sqlalchemy.orm import Session

    with Session(migrated_engine) as session:
        assert db.search(session, "兩會會客廳") == [url]  # title


def test_guest_turns_view(store, migrated_engine):
    store.save([interview_record(), plain_record(1)], None)
    with migrated_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT guest_name, guest_title, interview_date, article_title, url,"
                " section_topic, turn_text FROM guest_turns"
                " WHERE guest_name = :name ORDER BY turn_position"
            ),
            {"name": "謝衛東"},
        ).all()
    record = interview_record()
    assert [(r.guest_title, str(r.interview_date), r.article_title, r.url) for r in rows] == [
        ("東莞市厚街鎮黨委書記", "2025-02-27", record["title"], record["url"])
    ] * 2
    assert [(r.section_topic, r.turn_text) for r in rows] == [
        ("談感想", GUEST_A1),
        ("人工智能", GUEST_A2),
    ]


def test_guest_turns_view_follows_the_current_version(store, migrated_engine):
    store.save([interview_record()], None)
    changed = interview_record(
        capture=capture_for(3987862, record_id="<urn:uuid:v2>", fetched_at="2026-12-01T00:00:00Z")
    )
    changed["interview"]["turns"] = changed["interview"]["turns"][:2]
    store.save([changed], None)
    with migrated_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM guest_turns")).scalar() == 1


def test_interview_overview_view(store, migrated_engine):
    store.save([interview_record(), plain_record(1)], None)
    with migrated_engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM interview_overview")).mappings().all()
    assert len(rows) == 1
    row = rows[0]
    assert (row["guests"], row["section_count"], row["turn_count"], row["town"]) == (
        "謝衛東",
        2,
        4,
        "houjie",
    )
    assert str(row["interview_date"]) == "2025-02-27"


# --------------------------------------------------------------------------- the pipeline


def _crawler(settings: dict):
    from scrapy.utils.test import get_crawler

    return get_crawler(settings_dict=settings)


def _pipeline(crawler):
    from scrapy.utils.misc import build_from_crawler

    return build_from_crawler(DatabasePipeline, crawler)


def test_pipeline_is_off_when_disabled():
    from scrapy.exceptions import NotConfigured

    with pytest.raises(NotConfigured):
        _pipeline(_crawler({"DB_ENABLED": False}))


def test_pipeline_stores_batches_and_counts(db_url, migrated_engine):
    crawler = _crawler({"DB_URL": db_url, "DB_BATCH_SIZE": 2, "CRAWL_RUN_ID": "run-p"})
    pipeline = _pipeline(crawler)
    items = [plain_record(n) for n in range(1, 6)]
    revisit = {
        "revisit": True,
        "url": plain_record(1)["url"],
        "capture": {
            **capture_for(1, record_id="<urn:uuid:rv>", fetched_at="2026-12-09T00:00:00Z"),
            "status": 304,
        },
        "town": "houjie",
    }

    async def crawl():
        await pipeline.open_spider()
        for item in [*items, items[0], revisit]:
            assert await pipeline.process_item(item) is item
        await pipeline.close_spider()
        await pipeline.spider_closed(reason="finished")

    asyncio.run(crawl())
    stats = crawler.stats.get_stats()
    assert stats["db/articles_new"] == 5
    assert stats["db/articles_unchanged"] == 1
    assert stats["db/revisits"] == 1
    assert "db/articles_changed" not in stats
    assert stats["db/rows_upserted"] > 0
    assert row_counts(migrated_engine)["captures"] == 6
    with migrated_engine.connect() as conn:
        run = conn.execute(select(CrawlRun)).one()
    assert (run.id, run.status) == ("run-p", "finished")
    assert run.counters["new_articles"] == 5


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_pipeline_creates_the_schema_of_an_empty_database(sqlite_url, writer):
    pipeline = DatabasePipeline(sqlite_url, batch_size=10, writer=writer)

    async def crawl():
        await pipeline.open_spider()
        await pipeline.process_item(interview_record())
        await pipeline.close_spider()
        await pipeline.spider_closed(reason="finished")

    asyncio.run(crawl())
    engine = db.make_engine(sqlite_url)
    try:
        assert db.schema_state(engine) == "current"
        assert [r["url"] for r in RecordStore(engine).iter_records()] == [interview_record()["url"]]
    finally:
        engine.dispose()


def test_pipeline_drops_an_item_without_url(sqlite_url):
    from scrapy.exceptions import DropItem

    pipeline = DatabasePipeline(sqlite_url)

    async def crawl():
        await pipeline.open_spider()
        try:
            with pytest.raises(DropItem):
                await pipeline.process_item({"title": "no url"})
        finally:
            await pipeline.close_spider()
            await pipeline.spider_closed(reason="finished")

    asyncio.run(crawl())


@pytest.mark.parametrize(
    ("prepare", "error"),
    [("unreachable", DatabaseUnreachableError), ("too_new", SchemaTooNewError)],
)
def test_pipeline_refuses_to_open(prepare, error, sqlite_url):
    if prepare == "unreachable":
        url = f"postgresql://dg@127.0.0.1:{closed_port()}/dg"
    else:
        url = sqlite_url
        db.upgrade(url)
        engine = db.make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfacade99'"))
        engine.dispose()
    pipeline = DatabasePipeline(url)
    with pytest.raises(error) as info:
        asyncio.run(pipeline.open_spider())
    one_line(info.value)
    assert pipeline._executor is None  # its worker thread is gone


def test_a_database_error_during_the_crawl_stops_it_cleanly(db_url, migrated_engine, caplog):
    stopped = []
    pipeline = DatabasePipeline(db_url, batch_size=1, stop_crawl=stopped.append)

    async def crawl():
        await pipeline.open_spider()
        await pipeline.process_item(plain_record(1))
        await pipeline.close_spider()  # waits for the first batch
        with migrated_engine.begin() as conn:  # the database breaks under the crawl
            conn.execute(text("ALTER TABLE captures RENAME TO captures_gone"))
        for n in (2, 3, 4):
            await pipeline.process_item(plain_record(n))
        await pipeline.close_spider()
        await pipeline.spider_closed(reason="database_error")

    with caplog.at_level(logging.ERROR, logger="pipelines.database"):
        asyncio.run(crawl())
    assert stopped == ["database_error"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert "\n" not in message and "reindex" in message and errors[0].exc_info is None
    assert isinstance(pipeline.failed, DatabaseError)
    assert row_counts_safe(migrated_engine, "articles") == 1


def _doc_statements() -> list[str]:
    import re

    doc = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", doc, flags=re.S)
    statements = []
    for block in blocks:
        for stmt in block.split(";"):
            lines = [ln for ln in stmt.splitlines() if not ln.strip().startswith("--")]
            if "".join(lines).strip():
                statements.append("\n".join(lines))
    return statements


def test_the_example_queries_in_the_schema_doc_run(store, migrated_engine):
    statements = _doc_statements()
    assert len(statements) >= 10
    store.save([interview_record(), plain_record(1)], None)
    dialect = migrated_engine.dialect.name
    ran = 0
    for stmt in statements:
        only_sqlite = "articles_fts" in stmt
        only_pg = "ILIKE" in stmt or "extract(" in stmt
        if (only_sqlite and dialect != "sqlite") or (only_pg and dialect != "postgresql"):
            continue
        with migrated_engine.connect() as conn:
            conn.execute(text(stmt)).all()
        ran += 1
    assert ran >= 9


def test_one_batch_with_repeats_new_towns_columns_and_people(store, migrated_engine):
    """Rows added earlier in a batch are found later in the same batch (one flush)."""
    other_column = plain_record(5)
    other_column["url"] = "https://www.dg.gov.cn/houjie/xwzx/zhxw/content/post_5.html"
    second_capture = interview_record(
        capture=capture_for(3987862, record_id="<urn:uuid:b2>", fetched_at="2026-11-23T00:00:00Z")
    )
    changed = interview_record(
        capture=capture_for(3987862, record_id="<urn:uuid:b3>", fetched_at="2026-11-24T00:00:00Z")
    )
    changed["text"] += "\n更正"
    another_guest_interview = interview_record(42)
    batch = [
        interview_record(),
        other_column,
        plain_record(1),
        interview_record(),  # the same capture twice
        second_capture,
        changed,
        another_guest_interview,
    ]
    assert store.save(batch, "run-b") == {"new": 4, "changed": 1, "unchanged": 2}
    counts = row_counts(migrated_engine)
    assert (counts["towns"], counts["site_columns"], counts["people"]) == (1, 2, 1)
    assert (counts["articles"], counts["article_versions"], counts["captures"]) == (4, 5, 6)
    by_url = {r["url"]: r for r in store.iter_records()}
    assert by_url[changed["url"]]["text"].endswith("更正")
