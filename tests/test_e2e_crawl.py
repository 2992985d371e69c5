"""End to end: a real crawl of the project's mirror into WARC files, checked with warcio and pywb."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.e2e import crawl_mirror, dgarchive, warc_files
from tests.mocksite import MockSite

pytestmark = pytest.mark.e2e


def to_mirror(site: MockSite, canonical: str) -> str:
    return site.url.rstrip("/") + urlsplit(canonical).path


@pytest.fixture(scope="module")
def site(module_mirror):
    return module_mirror(articles=60, per_page=20, faults=True)


@pytest.fixture(scope="module")
def crawl(site, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crawl")
    archive = tmp / "archive"
    run = crawl_mirror(
        site.url, archive, f"sqlite:///{tmp / 'db.sqlite'}", "--report", str(tmp / "report.json")
    )
    records = []
    for path in warc_files(archive):
        with open(path, "rb") as fh:
            it = ArchiveIterator(fh, check_digests=True)
            for rec in it:
                body = rec.content_stream().read() if rec.rec_type != "warcinfo" else b""
                records.append(
                    {
                        "file": path.name,
                        "type": rec.rec_type,
                        "uri": rec.rec_headers.get_header("WARC-Target-URI"),
                        "headers": rec.rec_headers,
                        "http": rec.http_headers,
                        "raw": body,
                    }
                )
    report = (
        json.loads((tmp / "report.json").read_text()) if (tmp / "report.json").exists() else None
    )
    return {"run": run, "archive": archive, "records": records, "report": report, "tmp": tmp}


def responses(crawl) -> dict[str, dict]:
    return {r["uri"]: r for r in crawl["records"] if r["type"] == "response"}


def test_crawl_finishes_with_partial_success_because_of_faults(crawl):
    run = crawl["run"]
    # faults=True links a 404, a 500 and a dropped connection: success with some pages failed.
    assert run.returncode == 1, run.stderr[-3000:]
    assert crawl["report"]["failures"], crawl["report"]
    failed = {f["url"] for f in crawl["report"]["failures"]}
    assert any("404" in f["reason"] for f in crawl["report"]["failures"]), failed


def test_every_list_page_article_and_image_is_archived(site, crawl):
    got = responses(crawl)
    for url in site.list_page_urls():
        mirror = to_mirror(site, url)
        assert (
            mirror in got
            or mirror + "index.html" in got
            or mirror.removesuffix("index.html") in got
        ), url
    for url in site.article_urls():
        if "/private/" in url:
            continue
        assert to_mirror(site, url) in got, url
    images = site.image_urls()
    assert images
    for url in images:
        assert to_mirror(site, url) in got, url
    assert site.url + "robots.txt" in got


def test_robots_disallow_is_obeyed(site, crawl):
    # The mirror links a disallowed article from a list page; the crawl must not fetch it.
    linked = any(b"/houjie/private/" in r["raw"] for r in responses(crawl).values())
    assert linked, "the mirror should link a robots-disallowed page"
    fetched = {path for _method, path, _h in site.requests_log}
    assert not any(p.startswith("/houjie/private/") for p in fetched)


def test_every_file_passes_warcio_check_and_starts_with_warcinfo(crawl):
    files = warc_files(crawl["archive"])
    assert files
    assert not list(crawl["archive"].glob("*.open"))
    for path in files:
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "warcio"), "check", "-v", str(path)],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        with open(path, "rb") as fh:
            first = next(iter(ArchiveIterator(fh)))
            assert first.rec_type == "warcinfo"


def test_request_and_response_records_are_linked(crawl):
    by_id = {r["headers"].get_header("WARC-Record-ID"): r for r in crawl["records"]}
    requests = [r for r in crawl["records"] if r["type"] == "request"]
    assert requests
    for req in requests:
        target = by_id[req["headers"].get_header("WARC-Concurrent-To")]
        assert target["type"] == "response"
        assert target["uri"] == req["uri"]
    for resp in responses(crawl).values():
        assert resp["headers"].get_header("WARC-IP-Address") == "127.0.0.1"


def test_article_payload_equals_the_bytes_sent_and_gzip_stays_gzip(site, crawl):
    got = responses(crawl)
    checked_gzip = 0
    for url in site.article_urls()[:20]:
        rec = got[to_mirror(site, url)]
        sent = site.body_sent(urlsplit(url).path)
        with open(crawl["archive"] / rec["file"], "rb") as fh:
            for r in ArchiveIterator(fh):
                if (
                    r.rec_type == "response"
                    and r.rec_headers.get_header("WARC-Target-URI") == rec["uri"]
                ):
                    raw = r.raw_stream.read()
                    break
        assert raw == sent
        if rec["http"].get_header("Content-Encoding") == "gzip":
            assert raw[:2] == b"\x1f\x8b"
            assert gzip.decompress(raw) == rec["raw"]
            checked_gzip += 1
    assert checked_gzip, "the crawler asks for gzip, so the mirror sends it"


def test_repeated_set_cookie_headers_survive(site, crawl):
    rec = responses(crawl)[to_mirror(site, site.article_urls()[0])]
    cookies = [v for k, v in rec["http"].headers if k.lower() == "set-cookie"]
    assert len(cookies) == 2, rec["http"].headers


def test_errors_are_archived_as_received(site, crawl):
    statuses = {r["http"].get_statuscode() for r in responses(crawl).values()}
    assert {"200", "301", "404", "500"} <= statuses, statuses


def test_items_carry_their_warc_location(crawl):
    proc = dgarchive("export", "--db", f"sqlite:///{crawl['tmp'] / 'db.sqlite'}")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines
    for rec in lines[:10]:
        cap = rec["capture"]
        with open(crawl["archive"] / cap["warc_filename"], "rb") as fh:
            fh.seek(cap["warc_offset"])
            r = next(iter(ArchiveIterator(fh)))
            assert r.rec_type == "response"
            assert r.rec_headers.get_header("WARC-Record-ID") == cap["warc_record_id"]
            assert (
                urlsplit(r.rec_headers.get_header("WARC-Target-URI")).path
                == urlsplit(rec["url"]).path
            )


def test_pywb_replays_an_article_byte_for_byte(site, crawl, tmp_path):
    from tests.pywb_helper import pywb_server

    url = site.article_urls()[1]
    rec = responses(crawl)[to_mirror(site, url)]
    ts = (
        rec["headers"]
        .get_header("WARC-Date")
        .replace("-", "")
        .replace(":", "")
        .replace("T", "")[:14]
    )
    with pywb_server(warc_files(crawl["archive"]), tmp_path) as base:
        with urllib.request.urlopen(f"{base}{ts}id_/{rec['uri']}") as resp:
            body = resp.read()
            if resp.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
    assert body == rec["raw"]


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["crawl", "--town", "atlantis"], "unknown town"),
        (["crawl", "--column", "nowhere/x/"], "unknown column"),
        (["crawl", "--site-root", "ftp://example"], "malformed --site-root"),
        (["crawl", "--site-root", "http://127.0.0.1:notaport/"], "malformed --site-root"),
        (["crawl", "--bogus"], "unrecognized arguments"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, fragment, tmp_path):
    run = dgarchive(
        *args, "--archive", str(tmp_path / "a"), "--db", f"sqlite:///{tmp_path}/d.sqlite"
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], run.stderr


def test_unreachable_site_exits_nonzero_and_says_so(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = crawl_mirror(
        f"http://127.0.0.1:{port}/",
        tmp_path / "a",
        f"sqlite:///{tmp_path}/d.sqlite",
        "--report",
        str(tmp_path / "r.json"),
    )
    assert run.returncode == 4, run.stderr[-2000:]
    assert "unreachable" in run.stderr.lower()
    assert not list((tmp_path / "a").glob("*.open"))


def test_scrapy_crawl_works_from_the_repository_root(site, tmp_path):
    import os

    from tests.e2e import MIRROR_SETTINGS, REPO

    env = {k: v for k, v in os.environ.items() if not k.startswith("DGARCHIVE_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "town_news",
            "-a",
            "column=houjie/xwzx/zhxw/",
            "-a",
            f"site_root={site.url}",
            "-s",
            f"WARC_DIR={tmp_path / 'a'}",
            "-s",
            f"DB_URL=sqlite:///{tmp_path / 'db.sqlite'}",
            *MIRROR_SETTINGS,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    uris = set()
    for path in warc_files(tmp_path / "a"):
        with open(path, "rb") as fh:
            uris |= {r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)}
    zhxw = [u for u in site.article_urls("houjie/xwzx/zhxw/")]
    assert zhxw and all(to_mirror(site, u) in uris for u in zhxw)


def test_a_response_cut_off_mid_body_is_archived_truncated_and_reported(site, crawl):
    dropped = next(u for u in site.fault_urls().values() if "3900205" in u)
    rec = responses(crawl)[to_mirror(site, dropped)]
    assert rec["headers"].get_header("WARC-Truncated") == "disconnect"
    assert any("3900205" in f["url"] for f in crawl["report"]["failures"])


def test_the_crawl_makes_no_request_off_the_loopback(crawl):
    # Every archived exchange went to the mirror: nothing (not even the public suffix list
    # for cookies) was fetched from elsewhere.
    # (The run's own resource records have urn: URIs, not URLs.)
    hosts = {urlsplit(r["uri"]).hostname for r in crawl["records"] if r["type"] != "resource"}
    assert hosts - {None} == {"127.0.0.1"}
    assert "publicsuffix" not in crawl["run"].stderr


def test_json_logs_are_one_object_a_line_after_the_command_too(site, tmp_path):
    run = crawl_mirror(
        site.url,
        tmp_path / "a",
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        "--log-format",
        "json",
        town="houjie",
    )
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert lines
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    assert "finished" in records[-1]["msg"]


@pytest.fixture()
def small_disk(tmp_path):
    """A real 120 KiB filesystem (tmpfs), so the archive runs out of space for real."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=120k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_stops_the_crawl_and_loses_nothing_archived(site, small_disk, tmp_path):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run = crawl_mirror(site.url, small_disk, db, "--report", str(tmp_path / "r.json"))
    assert run.returncode == 6, run.stderr[-2000:]
    assert "No space left on device" in run.stderr
    assert not list(small_disk.glob("*.open"))
    files = warc_files(small_disk)
    assert files
    for path in files:  # every record that is there is whole and its digests right
        with open(path, "rb") as fh:
            assert sum(1 for _ in ArchiveIterator(fh, check_digests=True)) > 1
    # Every stored record points at bytes that are in the archive.
    export = dgarchive("export", "--db", db)
    records = [json.loads(line) for line in export.stdout.splitlines()]
    assert records
    for rec in records:
        cap = rec["capture"]
        with open(small_disk / cap["warc_filename"], "rb") as fh:
            fh.seek(cap["warc_offset"])
            r = next(iter(ArchiveIterator(fh, check_digests=True)))
        assert r.rec_headers.get_header("WARC-Record-ID") == cap["warc_record_id"]
