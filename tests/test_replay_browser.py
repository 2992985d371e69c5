"""Proof in a browser (issue 11): an archived interview page replays complete.

Headless Chromium (Debian's `chromium`, with `fonts-noto-cjk`; `.ci/run` installs both) loads
the page from the live mirror and from pywb over the crawl's WARC files, with every host but
127.0.0.1 unresolvable and every other request sent to a dead proxy. pywb's access log shows
each request replay answered: none in scope may be a 404 (the robots.txt-disallowed pixel is
the one expected miss). The two screenshots must match. The screenshot files are kept in the
test's tmp directory (printed; `pytest -s` shows the path).

pywb serves the page in its `id_` mode (the archived bytes, no rewriting, no banner): the
page's root-relative requests reach pywb's root, and pywb sends them back into the collection
by their Referer (307), as the access log shows.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.robotparser import RobotFileParser

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.e2e import crawl_mirror, warc_files
from tests.mocksite import templates
from tests.mocksite.content import ID_004
from tests.pngdiff import diff_fraction
from tests.pywb_helper import pywb_server
from tests.requisite_check import archive_refs

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# "GET /coll/20261202104433id_/http://127.0.0.1:1234/x.png HTTP/1.1" 200 1030 0.27
ACCESS = re.compile(r'"(GET|POST|HEAD) (\S+) HTTP/[\d.]+" (\d{3}) ')
REPLAY_PATH = re.compile(r"^/coll/\d{14}(?:[a-z]{2}_)?/(.+)$")


def _chromium_shot(url: str, out: Path, profile: Path) -> None:
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # as root in CI
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        f"--user-data-dir={profile}",
        "--window-size=1280,1600",
        # Nothing but 127.0.0.1: other names do not resolve, other requests go to a dead proxy.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=127.0.0.1",
        "--virtual-time-budget=5000",
        f"--screenshot={out}",
        url,
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0 and out.exists(), proc.stderr[-3000:]


def _warc_date(archive: Path, url: str) -> str:
    for path in warc_files(archive):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if (
                    rec.rec_type == "response"
                    and rec.rec_headers.get_header("WARC-Target-URI") == url
                ):
                    return re.sub(r"\D", "", rec.rec_headers.get_header("WARC-Date"))[:14]
    raise AssertionError(f"{url} is not in the archive")


@pytest.fixture(scope="module")
def crawl(module_mirror, tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip(
            "no chromium: .ci/run installs Debian's chromium and fonts-noto-cjk "
            "(apt-get install chromium fonts-noto-cjk)"
        )
    site = module_mirror(articles=30, per_page=20)
    tmp = tmp_path_factory.mktemp("replay")
    run = crawl_mirror(site.url, tmp / "archive", f"sqlite:///{tmp / 'db.sqlite'}")
    assert run.returncode == 0, run.stderr[-3000:]
    return site, tmp


def test_interview_page_replays_complete_and_looks_the_same(crawl) -> None:
    site, tmp = crawl
    page = site.mirror_url(f"https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_{ID_004}.html")
    archive = tmp / "archive"
    ts = _warc_date(archive, page)
    live_png, replay_png = tmp / "live.png", tmp / "replay.png"
    _chromium_shot(page, live_png, tmp / "profile-live")
    with pywb_server(warc_files(archive), tmp) as base:
        _chromium_shot(f"{base}{ts}id_/{page}", replay_png, tmp / "profile-replay")
    print(f"\nscreenshots: live {live_png}, replay {replay_png}")

    # What replay answered, from pywb's access log: URL -> statuses.
    log = next((tmp / "pywb").glob("wayback-*.log")).read_text(errors="replace")
    answered: dict[str, list[int]] = {}
    host = urlsplit(site.url).netloc
    for method, path, status in ACCESS.findall(log):
        if method != "GET":
            continue
        m = REPLAY_PATH.match(path)
        url = unquote(m.group(1)) if m else f"http://{host}{path}"  # root-relative, by Referer
        answered.setdefault(url, []).append(int(status))
    robots = RobotFileParser()
    robots.parse(templates.ROBOTS.splitlines())
    in_scope = {u: s for u, s in answered.items() if urlsplit(u).netloc == host}
    not_found = {u for u, s in in_scope.items() if 404 in s and robots.can_fetch("*", u)}
    assert not_found == set(), f"replay answered 404 for {sorted(not_found)}"
    # The log really holds the page's requisites: the share icons, the @import-ed CSS's
    # image, the share widget's CSS sprite, all answered from the archive. (Whether headless
    # Chromium asks for /favicon.ico before the screenshot varies; the CDXJ test covers it.)
    for path in (
        "/houjie/share/icons/weixin.png",
        "/houjie/images/footer_bg.png",
        "/houjie/share/sprite.png",
    ):
        assert 200 in in_scope.get(f"http://{host}{path}", []), (path, sorted(in_scope))
    # The one miss is the pixel robots.txt kept out of the archive.
    assert 404 in in_scope.get(f"http://{host}{templates.PRIVATE_PIXEL_PATH}", [])
    # Nothing off the mirror was replayed (the share service's script is not archived).
    assert not [u for u in answered if urlsplit(u).netloc not in (host, "")]

    fraction = diff_fraction(live_png, replay_png)
    print(f"pixels differing: {fraction:.5%}")
    assert fraction < 0.005


def test_cdxj_has_every_requisite_of_every_page(crawl) -> None:
    site, tmp = crawl
    archive = tmp / "archive"
    with pywb_server(warc_files(archive), tmp / "cdx"):
        pass  # wb-manager indexed the files
    index = tmp / "cdx" / "pywb" / "collections" / "coll" / "indexes" / "index.cdxj"
    indexed = set()
    for line in index.read_text().splitlines():
        _surt, _ts, fields = line.split(" ", 2)
        indexed.add(json.loads(fields)["url"])
    refs = archive_refs(warc_files(archive), site.url, templates.ROBOTS)
    assert len(refs.html_pages) >= len(site.article_urls())
    assert len(refs.refs) > 20  # chrome, share widget, CSS images, content images
    missing = {u: sorted(p)[:2] for u, p in refs.refs.items() if u not in indexed}
    assert missing == {}
