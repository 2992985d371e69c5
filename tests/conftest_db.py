"""Database fixtures (a pytest plugin, registered in tests/conftest.py): a throwaway PostgreSQL
cluster for the session and a fresh database per test, on SQLite and on PostgreSQL.

`db_url` runs a test once per engine. Without PostgreSQL server binaries the postgres cases
are skipped with the reason, except under CI=true, where they fail: CI must test both.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.pg import PgCluster, PostgresUnavailable, find_bindir


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"PostgreSQL is required under CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL server for the whole session (initdb in a temp dir, free port, trust)."""
    if find_bindir() is None:
        _unavailable("server binaries (initdb, postgres) not found; install postgresql")
    cluster = PgCluster()
    try:
        cluster.start()
    except PostgresUnavailable as exc:
        _unavailable(str(exc))
    print(f"\nPostgreSQL test cluster at {cluster.url}")
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_database_url(pg_cluster: PgCluster) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = pg_cluster.create_database(name)
    yield url
    pg_cluster.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of a new SQLite file (not created yet) in the test's temp dir."""
    return f"sqlite:///{tmp_path / 'db' / 'dgarchive.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_database_url")


@pytest.fixture
def db_engine(db_url: str):
    from pipelines.database import make_engine

    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def migrated_engine(db_engine):
    """`db_engine` with the schema at head."""
    from pipelines.database import upgrade

    upgrade(db_engine)
    return db_engine


@pytest.fixture
def store(migrated_engine):
    from pipelines.database import RecordStore

    return RecordStore(migrated_engine)
