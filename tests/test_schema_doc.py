"""The schema as downstream apps see it, on SQLite and PostgreSQL: CHECK constraints, SQL NULL
and jsonb, the new indexes, comments that equal the models and docs/schema.md, view rows
identical on both engines, the 0001 -> 0002 data migration, `alembic` and `DGARCHIVE_DB`, and
reading SQLite as a user who may not write its directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from pipelines import store as db
from pipelines.store.models import Base
from pipelines.store.reference import BEGIN, END, column_reference
from tests.conftest_db import interview_record, plain_record

ROOT = Path(__file__).resolve().parent.parent


def test_the_column_reference_in_the_doc_is_generated_from_the_models():
    doc = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    section = doc[doc.index(BEGIN) : doc.index(END) + len(END)]
    assert section == column_reference(), "run: python -m pipelines.store.reference"
    for table in Base.metadata.sorted_tables:
        assert table.comment, table.name
        for column in table.columns:
            assert column.comment, f"{table.name}.{column.name} has no comment"
            assert f"| `{column.name}` |" in section


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_postgres_holds_the_models_comments(migrated_engine):
    insp = inspect(migrated_engine)
    for table in Base.metadata.sorted_tables:
        assert insp.get_table_comment(table.name)["text"] == table.comment
        found = {c["name"]: c.get("comment") for c in insp.get_columns(table.name)}
        assert found == {c.name: c.comment for c in table.columns}, table.name


BAD_VALUES = [
    ("interview_turns", "role", "nonsense"),
    ("articles", "status", "deleted"),
    ("articles", "script", "latin"),
    ("article_versions", "script", "latin"),
    ("captures", "warc_type", "request"),
]


@pytest.mark.parametrize(("table", "column", "value"), BAD_VALUES)
def test_enumerations_are_checked_by_the_database(store, migrated_engine, table, column, value):
    store.save([interview_record()], None)
    with pytest.raises(IntegrityError, match=f"ck_{table}_{column}_known|CHECK"):
        with migrated_engine.begin() as conn:
            conn.execute(text(f"UPDATE {table} SET {column} = :v"), {"v": value})


def test_the_store_refuses_a_record_the_checks_would_refuse(store):
    record = interview_record()
    record["interview"]["turns"][0]["role"] = "nonsense"
    with pytest.raises(ValueError, match="role 'nonsense'"):
        store.save([record], None)


def test_absent_json_is_sql_null_and_postgres_uses_jsonb(store, migrated_engine):
    store.save([plain_record(1), interview_record()], None)
    store.start_run("r1")
    store.finish_run("r1", "finished", {"new_articles": 2})
    with migrated_engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM article_versions WHERE extra IS NOT NULL")
            ).scalar()
            == 0
        )
        assert (
            conn.execute(text("SELECT count(*) FROM article_versions WHERE extra IS NULL")).scalar()
            == 2
        )
        assert len(conn.execute(text("SELECT DISTINCT counters FROM crawl_runs")).all()) == 1
    if migrated_engine.dialect.name == "postgresql":
        types = {
            c["name"]: str(c["type"]) for c in inspect(migrated_engine).get_columns("crawl_runs")
        }
        assert types["counters"] == "JSONB" and types["args"] == "JSONB"


def test_the_missing_indexes_exist(migrated_engine):
    insp = inspect(migrated_engine)
    names = {ix["name"] for t in ("articles", "interview_turns") for ix in insp.get_indexes(t)}
    assert {"ix_articles_current_version_id", "ix_interview_turns_section_id"} <= names


@pytest.mark.postgres
def test_view_rows_are_identical_on_both_engines(sqlite_url, pg_database_url):
    from crawler.config import load_towns

    rows = {}
    for url in (sqlite_url, pg_database_url):
        db.upgrade(url)
        with db.RecordStore(url, towns=load_towns()) as store:
            store.save([interview_record(), plain_record(1)], None)
            with store.engine.connect() as conn:
                rows[url] = {
                    view: [
                        tuple(r) for r in conn.execute(text(f"SELECT * FROM {view} ORDER BY 1, 2"))
                    ]
                    for view in ("guest_turns", "interview_overview")
                }
    assert rows[sqlite_url] == rows[pg_database_url]
    overview = rows[sqlite_url]["interview_overview"][0]
    assert "2025-02-27" in overview and "2025-02-27T21:05:00+08:00" in overview


def test_upgrade_from_0001_migrates_the_data(db_engine):
    """JSON null becomes SQL NULL; the change times are filled from the captures."""
    db.upgrade(db_engine, "0001")
    with db_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO captures (id, url, fetched_at, status, warc_type) VALUES "
                "(1, 'https://www.dg.gov.cn/a', '2026-11-22 00:15:00+00', 200, 'response')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO articles (id, url, content_hash, first_seen_at, last_seen_at) VALUES "
                "(1, 'https://www.dg.gov.cn/a', 'sha256:x', '2026-11-20 00:00:00+00', '2026-11-25 00:00:00+00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO article_versions (id, article_id, number, capture_id, content_hash, extra) "
                "VALUES (1, 1, 1, 1, 'sha256:x', 'null')"
            )
        )
        conn.execute(text("UPDATE articles SET current_version_id = 1"))
    db.upgrade(db_engine)
    db.check_models(db_engine)
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT extra FROM article_versions")).scalar() is None
        row = conn.execute(text("SELECT status, gone_at FROM articles")).one()
        assert tuple(row) == ("live", None)
    with db.RecordStore(db_engine) as store:
        known = store.known_articles()["https://www.dg.gov.cn/a"]
    from sqlalchemy import select

    from pipelines.store.models import Article

    with db_engine.connect() as conn:
        a = conn.execute(select(Article)).one()
    assert a.content_changed_at.isoformat() == "2026-11-22T00:15:00+00:00"
    assert a.last_checked_at == a.last_seen_at
    assert known["last_seen_at"] == "2026-11-25T00:00:00Z"
    db.downgrade(db_engine, "0001")
    db.upgrade(db_engine)
    db.check_models(db_engine)


def test_alembic_from_the_command_line_uses_dgarchive_db(tmp_path):
    alembic = Path(sys.executable).with_name("alembic")
    target = tmp_path / "from-env.sqlite"
    res = subprocess.run(
        [str(alembic), "-c", str(ROOT / "alembic.ini"), "upgrade", "head"],
        cwd=tmp_path,
        env={**os.environ, "DGARCHIVE_DB": f"sqlite:///{target}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert target.is_file()
    assert not (tmp_path / "dgarchive.sqlite").exists()
    engine = db.make_engine(f"sqlite:///{target}")
    try:
        assert db.schema_state(engine) == "current"
    finally:
        engine.dispose()


_EXPORT_AS_NOBODY = """
import io, sys
from crawler.exporting import run_export
from pipelines.store import DatabaseError
out = io.StringIO()
try:
    run_export(sys.argv[1], out=out)
except DatabaseError as exc:
    print("error", exc)
else:
    print(len(out.getvalue().splitlines()), "records")
"""


def _export_as_nobody(url: str) -> str:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to read as another user")
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    res = subprocess.run(
        [*cmd, "-c", _EXPORT_AS_NOBODY, url], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    if "Permission denied" in res.stderr and "python" in res.stderr.lower():
        pytest.skip(f"user nobody cannot run this Python: {res.stderr[-200:]}")
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_a_read_only_user_reads_sqlite_as_documented():
    """docs/schema.md: `?mode=ro` while the -shm/-wal files exist; `?immutable=1` for a copy."""
    path = Path(tempfile.mkdtemp(prefix="dgarchive-ro-"))
    try:
        path.chmod(0o755)
        live = path / "live.sqlite"
        db.upgrade(f"sqlite:///{live}")
        engine = db.make_engine(f"sqlite:///{live}")
        with db.RecordStore(engine) as store, engine.connect():  # a writer keeps -shm open
            store.save([plain_record(1), plain_record(2)], None)
            for f in path.iterdir():
                f.chmod(0o644)
            assert (path / "live.sqlite-shm").exists()
            assert _export_as_nobody(f"sqlite:///{live}?mode=ro") == "2 records"
        engine.dispose()
        # Without the -shm file (the writer closed) mode=ro cannot open a WAL database:
        assert not (path / "live.sqlite-shm").exists()
        assert _export_as_nobody(f"sqlite:///{live}?mode=ro").startswith("error")
        assert _export_as_nobody(f"sqlite:///{live}?immutable=1") == "2 records"
        copy = path / "copy.sqlite"
        shutil.copy(live, copy)
        copy.chmod(0o644)
        assert not (path / "copy.sqlite-shm").exists()
        assert _export_as_nobody(f"sqlite:///{copy}?immutable=1") == "2 records"
    finally:
        shutil.rmtree(path)
