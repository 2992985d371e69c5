"""`dgarchive db grant-reader` on a real PostgreSQL (the role reads, cannot write), and the
read API commands' usage errors and generated metadata without a server."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest_db import interview_record, plain_record
from tests.e2e import dgarchive


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_grant_reader_role_can_select_and_cannot_write(store, db_url):
    store.save([interview_record(), plain_record(1)], None)
    role = f"reader_{uuid.uuid4().hex[:8]}"
    run = dgarchive("db", "grant-reader", role, "--db", db_url)
    assert run.returncode == 0, run.stderr
    assert f"CREATE ROLE {role} LOGIN" in run.stderr
    again = dgarchive("db", "grant-reader", role, "--db", db_url)  # idempotent
    assert again.returncode == 0, again.stderr
    assert "CREATE ROLE" not in again.stderr

    url = make_url(db_url)
    admin = psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    )
    try:
        with psycopg.connect(
            host=url.host, port=url.port, user=role, dbname=url.database, autocommit=True
        ) as reader:
            assert reader.execute("SELECT count(*) FROM articles").fetchone() == (2,)
            assert reader.execute("SELECT count(*) FROM guest_turns").fetchone()[0] == 2
            assert reader.execute("SELECT count(*) FROM interview_overview").fetchone() == (1,)
            # Read-only transactions by default...
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                reader.execute("INSERT INTO towns (slug, name) VALUES ('x', 'x')")
            # ... and no INSERT/UPDATE/DELETE privilege even in a read-write one.
            for statement in (
                "INSERT INTO towns (slug, name) VALUES ('x', 'x')",
                "UPDATE articles SET title = 'x'",
                "DELETE FROM captures",
                "CREATE TABLE evil (id int)",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    with reader.transaction():
                        reader.execute("SET TRANSACTION READ WRITE")
                        reader.execute(statement)
        # A table a later migration creates (as the owner) is readable too.
        admin.execute("CREATE TABLE later_table (id int)")
        with psycopg.connect(
            host=url.host, port=url.port, user=role, dbname=url.database
        ) as reader:
            assert reader.execute("SELECT count(*) FROM later_table").fetchone() == (0,)
        assert admin.execute("SELECT count(*) FROM articles").fetchone() == (2,)
    finally:
        admin.execute(f"DROP OWNED BY {role}")
        admin.execute(f"DROP ROLE {role}")
        admin.close()


def test_grant_reader_usage_errors(tmp_path):
    sqlite = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run = dgarchive("db", "grant-reader", "reader", "--db", sqlite)
    assert run.returncode == 2
    assert "PostgreSQL" in run.stderr
    bad = dgarchive("db", "grant-reader", "Robert'); DROP", "--db", sqlite)
    assert bad.returncode == 2
    assert "role name" in bad.stderr


def test_serve_usage_errors(tmp_path):
    run = dgarchive("serve", "--db", "postgresql://u@127.0.0.1:1/x")
    assert run.returncode == 2
    assert "grant-reader" in run.stderr
    missing = dgarchive("serve", "--db", f"sqlite:///{tmp_path / 'none.sqlite'}")
    assert missing.returncode == 5, missing.stderr
    assert not (tmp_path / "none.sqlite").exists()  # serve never creates a database
    assert dgarchive("serve", "--port", "70000").returncode == 2


def test_serve_prints_metadata_for_the_schema(tmp_path):
    db = f"sqlite:///{tmp_path / 'archive.sqlite'}"
    assert dgarchive("db", "upgrade", "--db", db).returncode == 0
    run = dgarchive("serve", "--db", db, "--print-metadata")
    assert run.returncode == 0, run.stderr
    meta = json.loads(run.stdout)
    tables = meta["databases"]["archive"]["tables"]
    assert tables["articles"]["fts_table"] == "articles_fts"
    assert tables["articles_fts"]["hidden"] is True
    # every modelled table is described (comment, else the model's docstring)
    from pipelines.store.models import Base

    for table in Base.metadata.tables:
        assert tables[table]["description"], table
    assert tables["guest_turns"]["description"]
    assert "changes_since" in meta["databases"]["archive"]["queries"]
