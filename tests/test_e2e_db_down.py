"""End to end: the PostgreSQL server goes away in the middle of a crawl."""

from __future__ import annotations

import json
import os
import time

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.e2e import dgarchive, start_crawl, warc_files
from tests.mocksite import MockSite
from tests.pg import PgCluster, PostgresUnavailable, find_bindir

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture()
def own_cluster():
    """A cluster of this test's own, since the test stops it."""
    if find_bindir() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL server binaries are missing in CI")
        pytest.skip("PostgreSQL server binaries not found")
    cluster = PgCluster()
    try:
        cluster.start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    yield cluster
    cluster.stop()


def test_a_database_that_goes_away_stops_the_crawl_and_reindex_recovers_it(own_cluster, tmp_path):
    site = MockSite(articles=45, per_page=10)
    site.start()
    try:
        db = own_cluster.create_database("crawl")
        crawl = start_crawl(
            site.url,
            tmp_path / "a",
            db,
            "--report",
            str(tmp_path / "r.json"),
            "-s",
            "DB_BATCH_SIZE=1",
            delay=0.2,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            fetched = [p for _m, p, _h in site.requests_log if "/content/post_" in p]
            if len(fetched) >= 5:
                break
            time.sleep(0.1)
        own_cluster.stop()  # the database goes away under the crawl
        _out, err = crawl.communicate(timeout=120)
    finally:
        site.stop()

    assert crawl.returncode == 5, err[-3000:]
    assert "database" in err.lower() and "reindex" in err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["finish_reason"] == "database_error"
    assert not list((tmp_path / "a").glob("*.open"))
    archived = set()
    for path in warc_files(tmp_path / "a"):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, check_digests=True):
                uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
                if rec.rec_type == "response" and "/content/post_" in uri:
                    archived.add(uri.split("/content/")[1])
    assert archived

    # Everything the crawl fetched is in the WARCs, and reindex brings it back.
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.sqlite'}"
    run = dgarchive("reindex", "--archive", str(tmp_path / "a"), "--db", rebuilt)
    assert run.returncode == 0, run.stderr[-2000:]
    export = dgarchive("export", "--db", rebuilt)
    stored = {json.loads(line)["url"].split("/content/")[1] for line in export.stdout.splitlines()}
    assert stored == archived
