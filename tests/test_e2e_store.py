"""End to end: crawl the mirror into a database, export, reindex from the WARCs, PostgreSQL."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.e2e import crawl_mirror, dgarchive

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def site(module_mirror):
    return module_mirror(articles=40, per_page=10)


@pytest.fixture(scope="module")
def sqlite_crawl(site, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("store")
    db = f"sqlite:///{tmp / 'db.sqlite'}"
    run = crawl_mirror(site.url, tmp / "archive", db)
    assert run.returncode == 0, run.stderr[-3000:]
    export = dgarchive("export", "--db", db)
    assert export.returncode == 0, export.stderr
    return {"tmp": tmp, "db": db, "archive": tmp / "archive", "export": export.stdout}


def records(export: str) -> list[dict]:
    return [json.loads(line) for line in export.splitlines() if line.strip()]


def comparable(export: str) -> list[dict]:
    """Export lines without the capture fields that name a particular crawl's files."""
    out = []
    for rec in records(export):
        rec = dict(rec)
        rec.pop("capture", None)
        rec.pop("replay_url", None)  # the capture's time and fetch URL: this crawl's too
        rec.pop("article_id", None)  # a surrogate key: the order this database stored them in
        out.append(rec)
    return out


def test_every_article_is_stored_once_with_a_capture_that_opens(site, sqlite_crawl):
    recs = records(sqlite_crawl["export"])
    urls = [r["url"] for r in recs]
    assert len(urls) == len(set(urls))
    assert set(urls) == {u for u in site.article_urls() if "/private/" not in u}
    for rec in recs:
        cap = rec["capture"]
        with open(sqlite_crawl["archive"] / cap["warc_filename"], "rb") as fh:
            fh.seek(cap["warc_offset"])
            r = next(iter(ArchiveIterator(fh, check_digests=True)))
        assert r.rec_type == "response"
        assert r.rec_headers.get_header("WARC-Record-ID") == cap["warc_record_id"]
        assert r.rec_headers.get_header("WARC-Payload-Digest") == cap["payload_digest"]
        assert (
            urlsplit(r.rec_headers.get_header("WARC-Target-URI")).path == urlsplit(rec["url"]).path
        )


def test_interviews_come_through_with_their_structure(sqlite_crawl):
    seed = next(
        r for r in records(sqlite_crawl["export"]) if r["url"].endswith("post_3987862.html")
    )
    assert seed["title"].startswith("一把手访谈")
    assert seed["interview"]["guests"][0]["name"] == "詹静"
    assert len(seed["interview"]["turns"]) >= 6
    assert seed["published_at"] == "2023-02-27T10:14:00+08:00"


def test_crawling_again_adds_no_duplicates(site, sqlite_crawl):
    run = crawl_mirror(site.url, sqlite_crawl["archive"], sqlite_crawl["db"], "--full")
    assert run.returncode == 0, run.stderr[-2000:]
    again = dgarchive("export", "--db", sqlite_crawl["db"])
    assert comparable(again.stdout) == comparable(sqlite_crawl["export"])


def test_reindex_into_a_fresh_database_gives_the_same_export(sqlite_crawl):
    db2 = f"sqlite:///{sqlite_crawl['tmp'] / 'rebuilt.sqlite'}"
    run = dgarchive("reindex", "--archive", str(sqlite_crawl["archive"]), "--db", db2)
    assert run.returncode == 0, run.stderr[-2000:]
    rebuilt = dgarchive("export", "--db", db2)
    live = dgarchive("export", "--db", sqlite_crawl["db"])
    assert records(rebuilt.stdout) == records(live.stdout)


@pytest.mark.postgres
def test_the_same_crawl_into_postgresql_gives_the_same_export(
    site, sqlite_crawl, pg_database_url, tmp_path
):
    run = crawl_mirror(site.url, tmp_path / "archive", pg_database_url)
    assert run.returncode == 0, run.stderr[-3000:]
    pg = dgarchive("export", "--db", pg_database_url)
    assert pg.returncode == 0, pg.stderr
    assert comparable(pg.stdout) == comparable(sqlite_crawl["export"])
