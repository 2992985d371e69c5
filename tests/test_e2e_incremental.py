"""End to end: incremental and scheduled crawling against the mirror (issue: cron and containers)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.e2e import crawl_mirror, dgarchive, start_crawl, warc_files

pytestmark = pytest.mark.e2e


def read_records(archive: Path) -> list:
    out = []
    for path in warc_files(archive):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, check_digests=True):
                out.append(
                    (
                        path.name,
                        rec.rec_type,
                        rec.rec_headers,
                        rec.http_headers,
                        rec.content_stream().read(),
                    )
                )
    return out


@pytest.fixture
def site(mirror):
    return mirror(articles=45, per_page=10)


def article_paths(site) -> set[str]:
    return {p for m, p, _h in site.requests_log if "/content/post_" in p}


def list_paths(site, column: str) -> list[str]:
    return [
        p
        for m, p, _h in site.requests_log
        if p.startswith("/" + column) and "/content/" not in p and p.endswith(("/", ".html"))
    ]


def test_second_crawl_fetches_only_what_is_new(site, tmp_path):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    first = crawl_mirror(site.url, tmp_path / "a", db)
    assert first.returncode == 0, first.stderr[-3000:]
    new_urls = site.add_articles(2)
    site.reset_log()
    second = crawl_mirror(site.url, tmp_path / "a", db, "--report", str(tmp_path / "r.json"))
    assert second.returncode == 0, second.stderr[-3000:]
    assert article_paths(site) == {urlsplit(u).path for u in new_urls}
    assert len(list_paths(site, "houjie/cjjs/tshj/")) <= 2
    assert len(list_paths(site, "houjie/xwzx/zhxw/")) <= 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["new_articles"] == 2
    assert report["known_skipped"] >= 1
    assert report["towns"] == ["houjie"]
    # The summary is also the last log line.
    assert "2 new" in second.stderr.strip().splitlines()[-1]

    # --full walks everything again, but stored content adds no new article.
    site.reset_log()
    full = crawl_mirror(
        site.url, tmp_path / "a", db, "--full", "--report", str(tmp_path / "f.json")
    )
    assert full.returncode == 0
    assert len(article_paths(site)) == len(site.article_urls())
    assert json.loads((tmp_path / "f.json").read_text())["new_articles"] == 0


def test_revisits_are_archived_and_replay_as_the_original(site, tmp_path):
    from tests.pywb_helper import pywb_server

    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert crawl_mirror(site.url, tmp_path / "a", db).returncode == 0
    changed = site.article_urls()[3]
    site.change_article(changed)
    second = crawl_mirror(
        site.url,
        tmp_path / "a",
        db,
        "--revisit-older-than",
        "0",
        "--report",
        str(tmp_path / "r.json"),
    )
    assert second.returncode == 0, second.stderr[-3000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["revisits"] >= len(site.article_urls()) - 1
    assert report["changed_articles"] == 1

    records = read_records(tmp_path / "a")  # check_digests=True throughout
    revisits = [r for r in records if r[1] == "revisit"]
    assert revisits
    profiles = {r[2].get_header("WARC-Profile") for r in revisits}
    assert any(p.endswith("server-not-modified") for p in profiles), profiles
    for r in revisits:
        for name in (
            "WARC-Refers-To-Target-URI",
            "WARC-Refers-To-Date",
            "WARC-Refers-To",
            "WARC-Payload-Digest",
        ):
            assert r[2].get_header(name), name
    for path in warc_files(tmp_path / "a"):
        check = subprocess.run(
            [str(Path(sys.executable).parent / "warcio"), "check", str(path)],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr

    # The changed article is a new response record; the database has a second version.
    responses = [
        r
        for r in records
        if r[1] == "response"
        and r[2].get_header("WARC-Target-URI").endswith(urlsplit(changed).path)
    ]
    assert len(responses) == 2
    export = dgarchive("export", "--db", db)
    rec = next(
        json.loads(line)
        for line in export.stdout.splitlines()
        if json.loads(line)["url"] == changed
    )
    assert rec["capture"]["warc_record_id"] == responses[1][2].get_header("WARC-Record-ID")

    # pywb replays a revisit (a 304 answered from the earlier response) as the original content.
    rv = revisits[0]
    original = next(
        r
        for r in records
        if r[1] == "response"
        and r[2].get_header("WARC-Record-ID") == rv[2].get_header("WARC-Refers-To")
    )
    ts = "".join(ch for ch in rv[2].get_header("WARC-Date") if ch.isdigit())[:14]
    with pywb_server(warc_files(tmp_path / "a"), tmp_path / "pywb") as base:
        with urllib.request.urlopen(f"{base}{ts}id_/{rv[2].get_header('WARC-Target-URI')}") as resp:
            body = resp.read()
            if resp.headers.get("Content-Encoding") == "gzip":
                import gzip

                body = gzip.decompress(body)
    assert body == original[4]


def test_feed_discovery_finds_the_column_articles(site, tmp_path):
    run = crawl_mirror(
        site.url,
        tmp_path / "a",
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        "--discovery",
        "feed",
        "--column",
        "houjie/cjjs/tshj/",
        town="houjie",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert any(p.startswith("/postmeta/i/") for _m, p, _h in site.requests_log)
    wanted = {urlsplit(u).path for u in site.article_urls("houjie/cjjs/tshj/")}
    assert wanted and wanted <= article_paths(site)
    assert not list_paths(site, "houjie/cjjs/tshj/")


def test_a_second_crawl_refuses_while_the_first_runs_and_ctrl_c_closes_cleanly(site, tmp_path):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    first = start_crawl(site.url, tmp_path / "a", db, delay=0.5)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            "/content/" in p for _m, p, _h in site.requests_log
        ):
            time.sleep(0.1)
        started = time.monotonic()
        second = crawl_mirror(site.url, tmp_path / "a", db)
        assert time.monotonic() - started < 15
        assert second.returncode == 3, second.stderr
        assert f"pid {first.pid}" in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        _out, err = first.communicate(timeout=60)
    assert first.returncode != 0
    assert not list((tmp_path / "a").glob("*.open")), err[-2000:]
    assert read_records(tmp_path / "a")  # every record complete and its digests right


def test_a_dead_site_exits_nonzero_and_the_report_names_the_failure(site, tmp_path):
    site.down()
    run = crawl_mirror(
        site.url,
        tmp_path / "a",
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        "--report",
        str(tmp_path / "r.json"),
    )
    assert run.returncode == 4, run.stderr[-2000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["failures"]
    assert any(site.url.rstrip("/") in f["url"] for f in report["failures"])
