"""End to end, the archivist's side: a real crawl of the mirror leaves a replay index, a WACZ
of it passes `wacz validate` with every article once in pages.jsonl, and `dgarchive replay`
serves the articles at the export's `replay_url`."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.pages import is_article_url
from tests.e2e import REPO, _env, crawl_mirror, dgarchive, warc_files

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def site(module_mirror):
    return module_mirror(articles=200, per_page=20)


@pytest.fixture(scope="module")
def crawl(site, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("archivist")
    archive, db = tmp / "archive", f"sqlite:///{tmp / 'db.sqlite'}"
    report = archive / "reports" / "first.json"
    run = crawl_mirror(site.url, archive, db, "--report", str(report))
    assert run.returncode == 0, run.stderr[-3000:]
    export = dgarchive("export", "--db", db)
    assert export.returncode == 0, export.stderr
    records = [json.loads(line) for line in export.stdout.splitlines()]
    return {"tmp": tmp, "archive": archive, "db": db, "records": records,
            "run_id": json.loads(report.read_text())["run_id"]}


def _zip_json_lines(zf: zipfile.ZipFile, name: str) -> tuple[dict, list[dict]]:
    lines = [json.loads(x) for x in zf.read(name).decode("utf-8").splitlines() if x.strip()]
    return lines[0], lines[1:]


def test_the_crawl_leaves_a_sorted_index_of_its_files(crawl):
    folder = crawl["archive"] / "indexes"
    lines = (folder / "index.cdxj").read_text().splitlines()
    assert lines == sorted(lines)
    state = json.loads((folder / "indexed.json").read_text())["files"]
    assert set(state) == {p.name for p in warc_files(crawl["archive"])}
    indexed = {json.loads(line.split(" ", 2)[2])["url"] for line in lines}
    assert {r["capture"]["target_uri"] for r in crawl["records"]} <= indexed


def test_wacz_validates_and_lists_every_article_once(crawl):
    out = crawl["tmp"] / "all.wacz"
    run = dgarchive("wacz", "--archive", str(crawl["archive"]), "--db", crawl["db"],
                    "--output", str(out))
    assert run.returncode == 0, run.stderr
    check = subprocess.run([str(BIN / "wacz"), "validate", "-f", str(out)],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and "the passed WACZ is valid" in check.stdout, check.stdout

    records = crawl["records"]
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        header, pages = _zip_json_lines(zf, "pages/pages.jsonl")
        _, extra = _zip_json_lines(zf, "pages/extraPages.jsonl")
        package = json.loads(zf.read("datapackage.json"))
        digest = json.loads(zf.read("datapackage-digest.json"))
        # Every file but the two package files is listed with its size and sha256.
        listed = {r["path"]: r for r in package["resources"]}
        assert set(listed) == set(names) - {"datapackage.json", "datapackage-digest.json"}
        for name in listed:
            data = zf.read(name)
            assert listed[name]["bytes"] == len(data)
            assert listed[name]["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert digest["hash"] == "sha256:" + hashlib.sha256(zf.read("datapackage.json")).hexdigest()
        # WARCs and the compressed index are stored, not deflated (replay reads by offset).
        assert zf.getinfo("indexes/index.cdx.gz").compress_type == zipfile.ZIP_STORED
        assert all(zf.getinfo(n).compress_type == zipfile.ZIP_STORED
                   for n in names if n.startswith("archive/"))
        assert zf.read("indexes/index.idx").startswith(b'!meta 0 {"format": "cdxj-gzip-1.0"')
        logs = [n for n in names if n.startswith("logs/")]
        # The run's own report and log, as the crawl wrote them into its WARC file.
        run_id = crawl["run_id"]
        assert sorted(logs) == [f"logs/run-{run_id}-log.jsonl", f"logs/run-{run_id}.json"]
        report = json.loads(zf.read(f"logs/run-{run_id}.json"))
        assert report["run_id"] == run_id
        assert zf.read(f"logs/run-{run_id}-log.jsonl").strip()

    assert {n for n in names if n.startswith("archive/")} == {
        f"archive/{p.name}" for p in warc_files(crawl["archive"])}
    assert package["wacz_version"] == "1.1.1" and package["profile"] == "data-package"
    assert "厚街" in package["title"] and "图说厚街" in package["description"]
    assert header["format"] == "json-pages-1.0" and header["hasText"] is True
    # One line per article, by the URL as captured; title and text from the database.
    urls = [p["url"] for p in pages]
    assert len(urls) == len(set(urls)) == len(records)
    by_url = {r["capture"]["target_uri"]: r for r in records}
    assert set(urls) == set(by_url)
    for page in pages:
        rec = by_url[page["url"]]
        assert page["ts"] == rec["capture"]["fetched_at"]
        assert (page["title"], page["text"]) == (rec["title"], rec["text"])
    assert extra and not any(is_article_url(p["url"]) for p in extra)
    assert any(p["url"].endswith("/houjie/cjjs/tshj/") for p in extra)


def test_wacz_of_a_later_run_brings_the_originals_of_its_revisits(site, crawl):
    archive = crawl["tmp"] / "revisit-archive"
    shutil.copytree(crawl["archive"], archive)
    db = f"sqlite:///{crawl['tmp'] / 'revisit.sqlite'}"
    shutil.copy(crawl["tmp"] / "db.sqlite", crawl["tmp"] / "revisit.sqlite")
    report = crawl["tmp"] / "second.json"
    run = crawl_mirror(site.url, archive, db, "--revisit-older-than", "0", "--report", str(report))
    assert run.returncode == 0, run.stderr[-3000:]
    second = json.loads(report.read_text())
    assert second["revisits"] > 0
    out = crawl["tmp"] / "second.wacz"
    run = dgarchive("wacz", "--archive", str(archive), "--db", db, "--run", second["run_id"],
                    "--output", str(out))
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(out) as zf:
        names = {n for n in zf.namelist() if n.startswith("archive/")}
        _, pages = _zip_json_lines(zf, "pages/pages.jsonl")
        logs = [n for n in zf.namelist() if n.startswith("logs/")]
    first_files = {f"archive/{p.name}" for p in warc_files(crawl["archive"])}
    assert first_files < names  # the originals the revisits stand for
    assert len(pages) == len({p["url"] for p in pages}) == second["revisits"]
    assert all(p["ts"] >= second["started_at"][:19] for p in pages)
    # Each included run's own report and log, from its WARC files: the second run's, and the
    # first run's, whose files hold the originals the revisits stand for.
    run_ids = {second["run_id"], crawl["run_id"]}
    assert sorted(logs) == sorted(
        name for r in run_ids for name in (f"logs/run-{r}.json", f"logs/run-{r}-log.jsonl")
    )
    bad = dgarchive("wacz", "--archive", str(archive), "--db", db, "--run", "nope",
                    "--output", str(out))
    assert bad.returncode == 2 and "no WARC file of run nope" in bad.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _replay(archive: Path, *extra: str) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "replay", "--archive", str(archive),
         "--port", str(port), *extra],
        cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/dgarchive/" in first, first
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=5).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "replay did not answer"
                time.sleep(0.3)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _fetch(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return resp.status, resp.read().decode("utf-8", "replace")


def test_replay_serves_articles_at_their_replay_url(crawl):
    records = crawl["records"]
    interview = next(r for r in records if r.get("interview"))
    sample = [interview, records[0], records[-1]]
    with _replay(crawl["archive"]) as base:
        for rec in sample:
            assert rec["replay_url"].startswith("/dgarchive/")
            status, body = _fetch(base + rec["replay_url"])
            assert status == 200 and rec["title"] in body


def test_replay_reads_a_zipnum_index(crawl):
    archive = crawl["tmp"] / "zipnum-archive"
    shutil.copytree(crawl["archive"], archive)
    run = dgarchive("index", "--archive", str(archive), "--zipnum-threshold", "1000")
    assert run.returncode == 0 and "index.idx" in run.stdout, run.stdout + run.stderr
    # replay indexes first, with the default threshold: keep the ZipNum by asking for it.
    shutil.rmtree(archive / "indexes" / "pywb", ignore_errors=True)
    rec = crawl["records"][len(crawl["records"]) // 2]
    with _replay(archive, "--zipnum-threshold", "1000") as base:
        status, body = _fetch(base + rec["replay_url"])
    assert status == 200 and rec["title"] in body
