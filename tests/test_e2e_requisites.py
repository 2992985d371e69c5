"""End to end (issue 11): complete pages, and the crawl's own record in the archive.

Real `dgarchive crawl` processes against the mirror; requests are counted on the server side.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipelines.warc.reader import iter_captures
from tests.e2e import crawl_mirror, dgarchive, warc_files
from tests.mocksite import templates
from tests.requisite_check import archive_refs

pytestmark = pytest.mark.e2e

CONTACT = "mailto:archive@example.org"
STATIC = [
    templates.CSS_PATH,
    templates.BASE_CSS_PATH,
    templates.SHARE_CSS_PATH,
    templates.JS_PATH,
    templates.FAVICON_PATH,
    *templates.STATIC_IMAGES,
]


def _paths(site: object) -> list[str]:
    return [p for _m, p, _h in site.requests_log]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def crawled(module_mirror, tmp_path_factory):
    site = module_mirror(articles=45, per_page=20)
    tmp = tmp_path_factory.mktemp("requisites")
    run = crawl_mirror(
        site.url,
        tmp / "archive",
        f"sqlite:///{tmp / 'db.sqlite'}",
        "--report",
        str(tmp / "report.json"),
        "-s",
        f"CONTACT_URL={CONTACT}",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((tmp / "report.json").read_text())
    return site, tmp, report, _paths(site)


def test_every_requisite_fetched_once_and_only_on_the_site(crawled) -> None:
    site, tmp, report, paths = crawled
    counts = Counter(paths)
    for path in STATIC:
        assert counts[path] == 1, f"{path} fetched {counts[path]} times"
    assert templates.PRIVATE_PIXEL_PATH not in counts  # robots.txt Disallow
    assert not [p for p, n in counts.items() if n > 1]  # nothing fetched twice in a crawl
    # Content images of every article came too.
    assert {urlsplit(u).path for u in site.image_urls()} <= set(counts)
    host = urlsplit(site.url).netloc
    uris = {c.target_uri for f in warc_files(tmp / "archive") for c in iter_captures(f)}
    assert {urlsplit(u).netloc for u in uris} == {host}  # never the share widget's host
    # Asked for: every static file, every content image, and the pixel robots.txt refused.
    assert report["requisites"] == len(STATIC) + len(site.image_urls()) + 1
    assert report["failures"] == []


def test_archive_holds_every_requisite_of_every_page(crawled) -> None:
    site, tmp, _report, _paths = crawled
    refs = archive_refs(warc_files(tmp / "archive"), site.url, templates.ROBOTS)
    articles = {site.mirror_url(u) for u in site.article_urls()}
    assert articles <= refs.html_pages  # article pages as well as list pages
    share_icon = site.url + "houjie/share/icons/weixin.png"
    assert share_icon in refs.refs and refs.refs[share_icon] <= articles  # article pages only
    assert site.url + "houjie/images/footer_bg.png" in refs.refs  # via the @import-ed CSS
    assert refs.missing() == {}


def test_no_change_recrawl_costs_at_most_two_requests(mirror, tmp_path: Path) -> None:
    site = mirror(articles=45, per_page=20)
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert crawl_mirror(site.url, tmp_path / "a", db).returncode == 0
    site.reset_log()
    again = crawl_mirror(site.url, tmp_path / "a", db, "--report", str(tmp_path / "r2.json"))
    assert again.returncode == 0, again.stderr[-3000:]
    besides_robots = [p for p in _paths(site) if p != "/robots.txt"]
    assert len(besides_robots) <= 2, besides_robots
    # Only the robots.txt-disallowed pixel is asked for again (and refused without a request).
    assert json.loads((tmp_path / "r2.json").read_text())["requisites"] == 1

    # New articles: the articles and their own images only, no stylesheet, icon or script
    # again (held from the first run).
    new = site.add_articles(3)
    site.reset_log()
    third = crawl_mirror(site.url, tmp_path / "a", db, "--report", str(tmp_path / "r3.json"))
    assert third.returncode == 0, third.stderr[-3000:]
    paths = _paths(site)
    assert {urlsplit(u).path for u in new} <= set(paths)
    assert not set(paths) & set(STATIC), sorted(set(paths) & set(STATIC))
    assert json.loads((tmp_path / "r3.json").read_text())["requisites_held"] > 0

    # --full fetches them again.
    site.reset_log()
    full = crawl_mirror(site.url, tmp_path / "a", db, "--full")
    assert full.returncode == 0, full.stderr[-3000:]
    assert set(STATIC) <= set(_paths(site))


def _records(archive: Path) -> list[tuple[str, object, bytes]]:
    out = []
    for path in warc_files(archive):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, check_digests=True):
                out.append((rec.rec_type, rec.rec_headers, rec.content_stream().read()))
    return out


def test_warcinfo_names_the_crawl(crawled) -> None:
    site, tmp, report, _paths = crawled
    infos = [body for kind, _h, body in _records(tmp / "archive") if kind == "warcinfo"]
    assert infos
    for body in infos:
        fields = dict(
            line.split(": ", 1) for line in body.decode("utf-8").splitlines() if line.strip()
        )
        assert fields["isPartOf"] == report["run_id"]
        assert fields["operator"] == CONTACT
        assert fields["http-header-from"] == CONTACT
        assert "厚街" in fields["description"] and "图说厚街" in fields["description"]
        assert fields["dgarchive-columns"] == "houjie/cjjs/tshj/,houjie/xwzx/zhxw/"
        assert fields["robots"] == "obey"
        assert fields["dgarchive-download-delay"] == "0.0 s"
        assert fields["dgarchive-autothrottle"] == "off"
        assert fields["dgarchive-concurrency"] == "16 requests, 8 per domain"
        assert fields["dgarchive-discovery"] == "pages"
        assert fields["dgarchive-mode"] == "incremental"
        assert fields["dgarchive-revisit-older-than"] == "never"
        assert fields["dgarchive-site-root"] == site.url
        assert "Scrapy/" in fields["software"] and "dgarchive/" in fields["software"]
        assert CONTACT in fields["http-header-user-agent"]


def test_run_report_and_log_are_in_the_archive(crawled) -> None:
    site, tmp, report, _paths = crawled
    assert report["site_root"] == site.url  # was null whatever --site-root said
    resources = {
        h.get_header("WARC-Target-URI"): (h.get_header("Content-Type"), body)
        for kind, h, body in _records(tmp / "archive")
        if kind == "resource"
    }
    run = report["run_id"]
    assert set(resources) == {f"urn:dgarchive:run:{run}:report", f"urn:dgarchive:run:{run}:log"}
    ctype, body = resources[f"urn:dgarchive:run:{run}:report"]
    assert ctype == "application/json"
    assert json.loads(body) == report
    ctype, body = resources[f"urn:dgarchive:run:{run}:log"]
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert ctype.startswith("application/x-ndjson")
    assert any("Enabled extensions" in line["msg"] for line in lines)
    assert lines[-1]["msg"].startswith(f"dgarchive run {run} finished")
    check = subprocess.run(
        [
            str(Path(sys.executable).parent / "warcio"),
            "check",
            *map(str, warc_files(tmp / "archive")),
        ],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_reindex_skips_the_run_records(crawled) -> None:
    site, tmp, _report, _paths = crawled
    uris = [c.target_uri for f in warc_files(tmp / "archive") for c in iter_captures(f)]
    assert uris and not [u for u in uris if u.startswith("urn:")]
    run = dgarchive(
        "reindex", "--archive", str(tmp / "archive"), "--db", f"sqlite:///{tmp / 'r.sqlite'}"
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "urn:" not in run.stdout + run.stderr
    export = dgarchive("export", "--db", f"sqlite:///{tmp / 'r.sqlite'}")
    assert export.returncode == 0
    assert len(export.stdout.splitlines()) == len(site.article_urls())
