"""Change tracking for downstream apps, on SQLite and PostgreSQL: article status (live, gone,
moved) from revisits, the change times, `export --changed-since` and the sync keys, and the
export's fitness for pipelines (UTF-8 always, --output, --bom, a closed pipe)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.exporting import run_export
from pipelines.database import DatabasePipeline
from pipelines.store.models import Article, Capture
from tests.conftest_db import SYNC_KEYS, capture_for, plain_record

ROOT = Path(__file__).resolve().parent.parent
T0 = "2026-11-22T00:15:00Z"


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def article(engine, n: int = 1) -> Article:
    with engine.connect() as conn:
        return conn.execute(select(Article).where(Article.url == plain_record(n)["url"])).one()


def later(n: int, when: str, rid: str, **kw) -> dict:
    return capture_for(n, fetched_at=when, record_id=f"<urn:uuid:{rid}>", **kw)


def test_unchanged_revisit_moves_only_the_seen_and_checked_times(store, migrated_engine):
    store.save([plain_record(1)], None)
    first = article(migrated_engine)
    assert (first.status, first.gone_at, first.status_changed_at) == ("live", None, None)
    assert first.content_changed_at == first.last_checked_at == first.last_seen_at == at(T0)

    again = plain_record(1, capture=later(1, "2026-11-25T00:00:00Z", "again"))
    assert store.save([again], None)["unchanged"] == 1
    store.record_revisit(again["url"], later(1, "2026-11-26T00:00:00Z", "rv"), None)
    row = article(migrated_engine)
    assert row.content_changed_at == at(T0)  # no new version: unchanged
    assert row.last_seen_at == row.last_checked_at == at("2026-11-26T00:00:00Z")
    assert row.first_seen_at == at(T0) and row.status == "live"

    changed = plain_record(1, text="改过的正文。", capture=later(1, "2026-11-27T00:00:00Z", "v2"))
    assert store.save([changed], None)["changed"] == 1
    assert article(migrated_engine).content_changed_at == at("2026-11-27T00:00:00Z")


def test_a_404_on_revisit_marks_the_article_gone_and_keeps_the_capture(store, migrated_engine):
    store.save([plain_record(1), plain_record(2)], None)
    gone = later(1, "2026-11-30T00:00:00Z", "404", digest="sha1:NOTFOUND")
    gone["status"] = 404
    assert store.record_status(plain_record(1)["url"], "gone", gone, None)
    assert not store.record_status(plain_record(1)["url"], "gone", gone, None)  # stored once
    row = article(migrated_engine)
    assert (row.status, row.gone_at, row.status_changed_at) == (
        "gone",
        at("2026-11-30T00:00:00Z"),
        at("2026-11-30T00:00:00Z"),
    )
    assert row.last_checked_at == at("2026-11-30T00:00:00Z")
    assert row.last_seen_at == at(T0)  # the page was not seen
    with migrated_engine.connect() as conn:
        statuses = conn.execute(
            select(Capture.status).where(Capture.url == row.url).order_by(Capture.fetched_at)
        ).scalars()
        assert list(statuses) == [200, 404]
    # The incremental crawl still revisits from the last capture that found the page.
    assert store.known_articles()[row.url]["status"] == 200

    # Exported with its status; --changed-since finds it, not the untouched article.
    changed = list(store.iter_records(changed_since=at("2026-11-29T00:00:00Z")))
    assert [(r["url"], r["status"]) for r in changed] == [(row.url, "gone")]

    back = plain_record(1, capture=later(1, "2026-12-05T00:00:00Z", "back"))
    assert store.save([back], None)["unchanged"] == 1
    row = article(migrated_engine)
    assert (row.status, row.gone_at) == ("live", None)
    assert row.status_changed_at == at("2026-12-05T00:00:00Z")


def test_a_stale_gone_visit_does_not_override_a_newer_sighting(store, migrated_engine):
    store.save([plain_record(1, capture=later(1, "2026-12-01T00:00:00Z", "new"))], None)
    old = later(1, "2026-11-01T00:00:00Z", "old404")
    old["status"] = 410
    assert store.record_status(plain_record(1)["url"], "moved", old, None)
    assert article(migrated_engine).status == "live"


def test_the_pipeline_stores_status_items_from_the_spider(db_url, migrated_engine):
    from scrapy.utils.misc import build_from_crawler
    from scrapy.utils.test import get_crawler

    crawler = get_crawler(settings_dict={"DB_URL": db_url, "CRAWL_RUN_ID": "run-s"})
    pipeline = build_from_crawler(DatabasePipeline, crawler)
    moved = later(2, "2026-12-01T00:00:00Z", "301")
    moved["status"] = 301
    items = [
        plain_record(1),
        plain_record(2),
        {"revisit": True, "article_status": "gone", "url": plain_record(1)["url"], "capture": {}},
        {
            "revisit": True,
            "article_status": "moved",
            "url": plain_record(2)["url"],
            "capture": moved,
        },
    ]

    async def crawl():
        await pipeline.open_spider()
        for item in items:
            await pipeline.process_item(item)
        await pipeline.close_spider()
        await pipeline.spider_closed(reason="finished")

    asyncio.run(crawl())
    assert crawler.stats.get_value("db/articles_withdrawn") == 2
    assert article(migrated_engine, 1).status == "gone"  # no capture (WARC off): now
    assert article(migrated_engine, 2).status == "moved"
    assert article(migrated_engine, 2).gone_at == at("2026-12-01T00:00:00Z")


def test_export_carries_the_sync_keys_and_filters_by_change(store, db_url):
    store.save([plain_record(1), plain_record(2)], None)
    store.save([plain_record(2, text="新版。", capture=later(2, "2026-12-01T00:00:00Z", "v2"))])
    out = io.StringIO()
    run_export(db_url, out=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    # The sync keys close the record; `replay_url` (added by export for `dgarchive replay`) follows.
    assert [list(r)[-5:-1] for r in lines] == [list(SYNC_KEYS)] * 2
    assert all(list(r)[-1] == "replay_url" for r in lines)
    assert [(r["version"], r["status"]) for r in lines] == [(1, "live"), (2, "live")]
    assert all(r["content_hash"].startswith("sha256:") and r["article_id"] for r in lines)
    out = io.StringIO()
    run_export(db_url, out=out, changed_since=at("2026-11-30T00:00:00Z"))
    assert [json.loads(line)["url"] for line in out.getvalue().splitlines()] == [
        plain_record(2)["url"]
    ]


# --------------------------------------------------------------------------- the command


def dgarchive(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=ROOT,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        **kw,
    )


@pytest.fixture
def filled_sqlite(sqlite_url) -> str:
    from pipelines.store import RecordStore, upgrade
    from tests.conftest_db import interview_record

    upgrade(sqlite_url)
    with RecordStore(sqlite_url) as store:
        store.save([plain_record(n) for n in range(1, 300)] + [interview_record()], None)
    return sqlite_url


def test_export_is_utf8_whatever_the_locale(filled_sqlite):
    res = dgarchive("export", "--db", filled_sqlite, env={"PYTHONIOENCODING": "ascii", "LANG": "C"})
    assert res.returncode == 0, res.stderr
    assert "謝衛東" in res.stdout.decode("utf-8")


def test_export_to_a_closed_pipe_exits_0(filled_sqlite):
    cmd = f"{sys.executable} -m crawler.cli export --db '{filled_sqlite}' | head -1"
    res = subprocess.run(
        ["bash", "-c", f'{cmd}; echo "rc=${{PIPESTATUS[0]}}"'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.stdout.splitlines()[-1] == "rc=0", res.stderr
    assert json.loads(res.stdout.splitlines()[0])["url"]
    assert "Traceback" not in res.stderr


def test_export_output_file_and_bom(filled_sqlite, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "out.csv"
    target.write_text("the previous export\n")
    res = dgarchive("export", "--db", filled_sqlite, "--format", "csv", "--bom", "-o", str(target))
    assert res.returncode == 0 and res.stdout == b"", res.stderr
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfurl,site,")
    assert data.decode("utf-8-sig").count("\n") > 300
    assert [p.name for p in out_dir.iterdir()] == ["out.csv"]  # no temporary file left

    # A failed export leaves the previous file alone.
    res = dgarchive("export", "--db", filled_sqlite + "-missing", "-o", str(target))
    assert res.returncode == 5
    assert target.read_bytes() == data
    assert [p.name for p in out_dir.iterdir()] == ["out.csv"]


def test_export_changed_since_on_the_command_line(filled_sqlite):
    res = dgarchive("export", "--db", filled_sqlite, "--changed-since", "2026-11-22T08:15:00+08:00")
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 300  # at T0, inclusive
    res = dgarchive("export", "--db", filled_sqlite, "--changed-since", "2026-11-22T00:15:01Z")
    assert res.returncode == 0 and res.stdout == b""
    res = dgarchive("export", "--changed-since", "yesterday")
    assert res.returncode == 2 and b"not a timestamp" in res.stderr
