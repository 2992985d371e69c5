"""A real crawl with revisits against the mirror: an article the site withdrew (404 on
revisit) ends `gone` in the database, its 404 stored as a capture, and `export
--changed-since` gives it with its status."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from pipelines.store import make_engine
from pipelines.store.models import Article, Capture
from tests.e2e import crawl_mirror, dgarchive

pytestmark = pytest.mark.e2e


def withdraw(site, url: str) -> None:
    """The mirror stops serving an article (it answers 404, as for any unknown page)."""
    aid = site._article_id(url)
    with site._lock:
        del site._catalogue.articles[aid]
        site._reindex()
        site._cache = {}


def test_a_withdrawn_article_is_gone_after_a_revisit(mirror, tmp_path):
    site = mirror(articles=12, per_page=10)
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert crawl_mirror(site.url, tmp_path / "a", db).returncode == 0
    gone = site.article_urls()[-1]  # the oldest: no list page links it after withdrawal
    withdraw(site, gone)
    second = crawl_mirror(site.url, tmp_path / "a", db, "--revisit-older-than", "0")
    assert second.returncode in (0, 1), second.stderr[-3000:]  # 1: the 404 is a failure

    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(Article).where(Article.url == gone)).one()
            statuses = (
                conn.execute(
                    select(Capture.status).where(Capture.url == gone).order_by(Capture.fetched_at)
                )
                .scalars()
                .all()
            )
            live = conn.execute(select(Article.status).where(Article.url != gone)).scalars().all()
    finally:
        engine.dispose()
    assert row.status == "gone" and row.gone_at is not None
    assert row.last_checked_at == row.gone_at > row.last_seen_at
    assert statuses[0] == 200 and statuses[-1] == 404
    assert set(live) == {"live"}

    since = row.gone_at.isoformat()
    res = dgarchive("export", "--db", db, "--changed-since", since)
    assert res.returncode == 0, res.stderr
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(r["url"], r["status"]) for r in records] == [(gone, "gone")]
