"""Start-up of `dgarchive crawl` (docs/architecture.md, "Start-up"): the writer process
started early (`pipelines.writerboot`), the schema state read without Alembic, Scrapy's HTTP
handler imported without `inspect.stack`. Each must answer as the slower way did."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from pipelines import store as db
from pipelines import writerboot
from pipelines.database import DatabasePipeline
from pipelines.store import DatabaseError, schema
from pipelines.store import writerprocess as wp

REPO = Path(__file__).resolve().parent.parent


# -- the schema state without Alembic ---------------------------------------------------------


def test_declared_revisions_are_alembics():
    assert schema._declared_revisions() == schema._alembic_revisions()


def _versions(tmp_path: Path, scripts: dict[str, str]) -> Path:
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    for name, body in scripts.items():
        (versions / name).write_text(body)
    return versions.parent


def test_declared_revisions_follow_branches_and_merges(tmp_path, monkeypatch):
    here = _versions(
        tmp_path,
        {
            "a.py": 'revision = "a"\ndown_revision = None\n',
            "b.py": 'revision: str = "b"\ndown_revision: str | None = "a"\n',
            "c.py": 'revision = "c"\ndown_revision = "a"\n',
            "d.py": 'revision = "d"\ndown_revision = ("b", "c")\n',
            "e.py": 'revision = "e"\ndown_revision = "a"\n',  # a second head
        },
    )
    monkeypatch.setattr(schema, "migrations_dir", lambda: here)
    assert schema._declared_revisions() == (frozenset("abcde"), frozenset({"d", "e"}))


@pytest.mark.parametrize(
    "body",
    [
        "revision = make_id()\ndown_revision = None\n",  # not a literal
        'revision = "x"\n',  # no down_revision
        'revision = "x"\ndown_revision = 7\n',
        'revision = (\n    "x"\n)\ndown_revision = None\n',  # not on one line
        'revision = "x"\ndown_revision = None\nrevision = "y"\n',  # twice
    ],
)
def test_declared_revisions_leave_an_unusual_script_to_alembic(body, tmp_path, monkeypatch):
    here = _versions(tmp_path, {"a.py": 'revision = "a"\ndown_revision = None\n', "x.py": body})
    monkeypatch.setattr(schema, "migrations_dir", lambda: here)
    assert schema._declared_revisions() is None


def test_the_version_table_is_read_as_alembic_reads_it(sqlite_url):
    engine = db.make_engine(sqlite_url)
    try:
        for step in ("empty", "head", "edited"):
            if step == "head":
                db.upgrade(engine)
            elif step == "edited":  # two rows: a database with two heads
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO alembic_version VALUES ('f00dfacade99')"))
            with engine.connect() as conn:
                alembic = set(MigrationContext.configure(conn).get_current_heads())
                assert schema._db_revisions(conn) == alembic, step
        assert db.schema_state(engine) == "ahead"
    finally:
        engine.dispose()


# -- the writer process started early ---------------------------------------------------------


def test_a_failed_prepare_is_what_writer_open_raises(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing' / 'x.sqlite'}?mode=ro"  # cannot be created
    with pytest.raises(DatabaseError) as plain:
        wp.writer_open("t1", url, "run", {})
    wp.writer_prepare(url)
    with pytest.raises(DatabaseError) as prepared:
        wp.writer_open("t2", url, "run", {})
    assert str(prepared.value) == str(plain.value)
    assert type(prepared.value) is type(plain.value)
    assert url not in wp._PREPARE_FAILED  # raised once, not kept


def _store_one_record(db_url: str, run_id: str) -> object:
    """A `DatabasePipeline` run that stores one record; the writer executor it used."""
    pipeline = DatabasePipeline(db_url, batch_size=10, run_id=run_id)
    used = []

    async def crawl():
        await pipeline.open_spider()
        used.append(pipeline._executor)
        await pipeline.process_item(_record())
        await pipeline.close_spider()
        await pipeline.spider_closed(reason="finished")

    asyncio.run(crawl())
    return used[0]


def test_the_pipeline_takes_the_prestarted_writer(sqlite_url):
    writerboot.prestart(sqlite_url)
    prestarted = writerboot._PRESTARTED[sqlite_url]
    try:
        assert _store_one_record(sqlite_url, "run-early") is prestarted
    finally:
        writerboot.discard()
    assert writerboot.take(sqlite_url) is None
    engine = db.make_engine(sqlite_url)
    try:
        assert db.schema_state(engine) == "current"
        with engine.connect() as conn:
            runs = conn.execute(text("SELECT id, status FROM crawl_runs")).all()
        assert [tuple(r) for r in runs] == [("run-early", "finished")]
        assert [r["url"] for r in db.RecordStore(engine).iter_records()] == [_record()["url"]]
    finally:
        engine.dispose()


def test_an_untaken_writer_is_stopped(sqlite_url):
    writerboot.prestart(sqlite_url)
    executor = writerboot._PRESTARTED[sqlite_url]
    pids = list(executor._processes)
    assert pids
    writerboot.discard()
    assert writerboot._PRESTARTED == {}
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def test_a_crawl_refused_by_the_database_check_leaves_no_writer(sqlite_url, tmp_path, monkeypatch):
    """The writer warmed at the start is given no database when a check before the locks
    fails: the error is the one line it always was, and no writer process is left."""
    from crawler.cli import main

    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfacade99'"))
    engine.dispose()
    warmed = []
    real_warm = writerboot.warm

    def warm():
        real_warm()
        warmed.extend(writerboot._WARM)

    monkeypatch.setattr(writerboot, "warm", warm)
    alembic_level = logging.getLogger("alembic").level  # `main` quiets it, process-wide
    try:
        code = main(
            ["-q", "crawl", "--town", "houjie", "--site-root", "http://127.0.0.1:9/",
             "--archive", str(tmp_path / "a"), "--db", sqlite_url]
        )  # fmt: skip
    finally:
        logging.getLogger("alembic").setLevel(alembic_level)
    assert code == 5
    assert writerboot._PRESTARTED == {} and writerboot._WARM == []
    (executor,) = warmed  # it was started, then killed
    assert executor._processes is None  # shut down


def test_prestart_takes_the_warm_writer(sqlite_url):
    writerboot.warm()
    (warm,) = writerboot._WARM
    writerboot.warm()  # once
    assert writerboot._WARM == [warm]
    try:
        writerboot.prestart(sqlite_url)
        assert writerboot._PRESTARTED[sqlite_url] is warm and writerboot._WARM == []
        assert _store_one_record(sqlite_url, "run-warm") is warm
    finally:
        writerboot.discard()
    engine = db.make_engine(sqlite_url)
    try:
        assert [r["url"] for r in db.RecordStore(engine).iter_records()] == [_record()["url"]]
    finally:
        engine.dispose()


def test_the_warm_writer_is_forked_only_while_no_other_thread_runs():
    """A fork would copy other threads' locks in whatever state they are; with a thread
    running, the warm writer is spawned, and it works either way."""
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        writerboot.warm()
        (spawned,) = writerboot._WARM
        assert spawned._mp_context.get_start_method() == "spawn"
        assert spawned.submit(writerboot.call, "writer_check", "sqlite://").result() is None
    finally:
        writerboot.discard()
        release.set()
        other.join()
    if threading.active_count() > 1:
        pytest.skip("another thread runs in this test process")
    writerboot.warm()
    try:
        (forked,) = writerboot._WARM
        assert forked._mp_context.get_start_method() == "fork"
        assert forked.submit(writerboot.call, "writer_check", "sqlite://").result() is None
    finally:
        writerboot.discard()


def test_a_warm_writer_nobody_took_is_killed(sqlite_url):
    writerboot.warm()
    (executor,) = writerboot._WARM
    pids = list(executor._processes)
    assert pids
    writerboot.discard(sqlite_url)  # a database's: the warm one stays
    assert writerboot._WARM == [executor]
    writerboot.discard()
    assert writerboot._WARM == []
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def test_the_crawl_process_checks_validates_and_reads_known_urls_without_sqlalchemy(sqlite_url):
    """What the crawl process does with an SQLite store before its first request (the
    database check, the pipeline's imports, `validate_record`, the known URLs of an
    incremental crawl without revisits) its writer process does for it: no SQLAlchemy in
    the crawl's."""
    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)
    try:
        db.RecordStore(engine).save([_record()])
    finally:
        engine.dispose()
    probe = f"""
import sys
from pipelines import writerboot
writerboot.warm()
print(writerboot._WARM[0]._mp_context.get_start_method())
from crawler.cli.crawl import _check_database
from crawler.spiders.revisits import load_known
from pipelines.database import DatabasePipeline
from pipelines.store import validate_record
print(_check_database({sqlite_url!r}))
writerboot.prestart({sqlite_url!r})
validate_record({_record()!r})
print(sorted(load_known({sqlite_url!r}, captures=False)))
print(sorted(m for m in sys.modules if m.startswith("sqlalchemy")))
writerboot.discard()
"""
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    url = _record()["url"]
    assert out == ["fork", str(db.sqlite_file(sqlite_url)), repr([url]), "[]"]


def test_known_urls_are_the_same_from_the_writer_process_and_in_this_one(sqlite_url):
    from crawler.spiders.revisits import load_known

    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)
    try:
        db.RecordStore(engine).save([_record()])
        here = db.RecordStore(engine).known_articles()
    finally:
        engine.dispose()
    assert load_known(sqlite_url, captures=True) == here  # no writer: in this process
    assert load_known(sqlite_url, captures=False) == set(here)
    writerboot.prestart(sqlite_url)
    try:
        assert load_known(sqlite_url, captures=True) == here
        assert load_known(sqlite_url, captures=False) == set(here)
    finally:
        writerboot.discard()


def test_the_database_check_falls_back_to_this_process_if_the_warm_writer_died(tmp_path):
    from crawler.cli.crawl import _check_database

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    writerboot.warm()
    (executor,) = writerboot._WARM
    for process in list(executor._processes.values()):
        process.kill()
        process.join()
    try:
        assert _check_database(url) == tmp_path / "db.sqlite"
        assert writerboot._WARM == []
        newer = tmp_path / "newer.sqlite"
        db.upgrade(f"sqlite:///{newer}")
        with closing(sqlite3.connect(newer)) as conn, conn:
            conn.execute("UPDATE alembic_version SET version_num = 'f00dfacade99'")
        with pytest.raises(db.SchemaTooNewError):
            _check_database(f"sqlite:///{newer}")  # no writer: here
    finally:
        writerboot.discard()


# -- Scrapy's HTTP handler --------------------------------------------------------------------


def test_the_http_handler_is_imported_with_its_aliases_named_as_before():
    probe = """
import inspect, sys
stack = inspect.stack
from crawler.cli.crawl import _import_http_handler
_import_http_handler()
assert inspect.stack is stack
assert "twisted.internet.reactor" not in sys.modules
from scrapy.core.downloader import contextfactory, tls
print(contextfactory.ScrapyClientContextFactory.__module__)
print(contextfactory.AcceptableProtocolsContextFactory.__module__)
print(tls.ScrapyClientTLSOptions.__module__)
"""
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [
        "scrapy.core.downloader.contextfactory",
        "scrapy.core.downloader.contextfactory",
        "scrapy.core.downloader.tls",
    ]


def _record() -> dict:
    from tests.test_database import interview_record

    return interview_record()


@pytest.mark.parametrize(
    ("overrides", "started"),
    [
        ({}, True),
        ({"DB_WRITER": "thread"}, False),
        ({"DB_ENABLED": False}, False),
        ({"ITEM_PIPELINES": {"pipelines.cleaning.CleaningPipeline": 100}}, False),
        ({"ITEM_PIPELINES": {"pipelines.database.DatabasePipeline": None}}, False),
    ],
)
def test_the_writer_is_started_early_only_for_the_database_pipeline(overrides, started, sqlite_url):
    from crawler.cli.base import project_settings
    from crawler.cli.crawl import _prestart_writer

    settings = project_settings()
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    writerboot.warm()
    (warm,) = writerboot._WARM
    try:
        assert _prestart_writer(settings, sqlite_url) is started
        assert (sqlite_url in writerboot._PRESTARTED) is started
        assert writerboot._WARM == []  # taken, or stopped if no writer process is wanted
        if started:
            assert writerboot._PRESTARTED[sqlite_url] is warm
        else:
            assert warm._processes is None
    finally:
        writerboot.discard()


def test_the_console_entry_returns_mains_code_with_the_imports_frozen(tmp_path):
    """`console()` (the `dgarchive` script, `python -m crawler.cli`) is `main()`, then
    `gc.freeze()`: the interpreter's exit need not walk what the command imported
    (bench/bench_reindex.py measures the exit it saves). `main()` itself freezes nothing,
    as tests call it in their own process."""
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    probe = f"""
import gc, sys
from crawler.cli import console, main
sys.argv = ["dgarchive", "db", "upgrade", "--db", {db_url!r}]
print(main(), gc.get_freeze_count())
sys.argv = ["dgarchive", "db", "upgrade", "--db", "nosuch://x"]
print(console(), gc.get_freeze_count() > 10000)
"""
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["0 0", "2 True"]
    assert (tmp_path / "db.sqlite").is_file()


def test_the_reindex_command_forks_its_reader_before_importing_w3lib():
    """Everything `dgarchive reindex` imports before it forks its reader process is serial
    time; w3lib.url (with urllib.request, http.client, email and ssl) is needed only by the
    reader's URL normalisation, so it is imported there, at the first URL."""
    probe = """
import sys
import crawler.cli, crawler.logs, crawler.reindexing
print(sorted(m for m in sys.modules if m.split(".")[0] in ("w3lib", "ssl", "email")))
from crawler.config import normalize_url
print(normalize_url("HTTP://www.dg.gov.cn:80/a/%7Eb/../c.html#x"), "w3lib.url" in sys.modules)
"""
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["[]", "http://www.dg.gov.cn/a/c.html True"]


def test_an_sqlite_store_does_not_import_the_postgresql_dialect(sqlite_url):
    """`JSONValue` is `jsonb` on PostgreSQL without the models importing that dialect (47 ms,
    asyncpg's support among it) in every SQLite writer and `reindex`
    (tests/test_schema_doc.py checks the columns are jsonb on a real PostgreSQL)."""
    probe = f"""
import sys
from pipelines import store
engine = store.make_engine({sqlite_url!r})
store.ensure_schema(engine)  # a new database: the snapshot, as reindex and a crawl make it
store.RecordStore(engine).save([{_record()!r}])
print(sorted(m for m in sys.modules if "postgresql" in m or "psycopg" in m))
"""
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["[]"]
