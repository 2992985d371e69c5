"""Size limits end to end: a gzip bomb, an endless body and a 60 MB page, with peak memory.

Each crawl runs under a fresh wrapper process that reports `RUSAGE_CHILDREN` max RSS, so the
figure is that crawl's own peak (and its database writer's), not the test process's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.warc.completeness import check_body, stream_problem
from tests.e2e import MIRROR_SETTINGS, REPO, Run, _env, dgarchive
from tests.hostile import HostileSite
from tests.hostile.cases.limits import gzip_bomb
from tests.hostile.harness import HostileRun
from tests.hostile.server import COLUMN

MAX_RSS_MB = 300
_WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[1:])\n"
    "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(rc)\n"
)


def crawl_measured(site: HostileSite, tmp: Path, *extra: str) -> tuple[HostileRun, float]:
    """`crawl_hostile`, run under the wrapper; returns the run and the crawl's peak RSS (MB)."""
    archive, report_path = tmp / "archive", tmp / "report.json"
    db_url = f"sqlite:///{tmp / 'db.sqlite'}"
    args = [
        "crawl", "--column", COLUMN, "--site-root", site.url, "--archive", str(archive),
        "--db", db_url, "--report", str(report_path), *MIRROR_SETTINGS, *extra,
    ]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, sys.executable, "-m", "crawler.cli", *args],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = proc.stdout.splitlines()
    kb = int(next(x for x in reversed(lines) if x.startswith("MAXRSS_KB")).split()[1])
    out = "\n".join(x for x in lines if not x.startswith("MAXRSS_KB"))
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    exported = dgarchive("export", "--db", db_url)
    records = [json.loads(x) for x in exported.stdout.splitlines() if x.strip()]
    run = HostileRun(Run(proc.returncode, out, proc.stderr), tmp, archive, db_url, report, records)
    return run, kb / 1024


def _reason(run: HostileRun, site: HostileSite, name: str) -> str:
    failures = run.failures()
    for url in (site.article_url(name), site.fetch_url(name)):
        if url in failures:
            return failures[url]
    raise AssertionError(f"{name} not reported: {failures}")


@pytest.mark.e2e
@pytest.mark.parametrize(
    "name, words",
    [
        ("gzip_bomb", ["DOWNLOAD_MAXSIZE", "decompression"]),
        ("endless_body", ["too large", "DOWNLOAD_MAXSIZE", "33554432"]),
        ("sixty_mb", ["too large", "Content-Length 62914560", "DOWNLOAD_MAXSIZE"]),
    ],
)
def test_a_body_over_the_default_limit_is_cut_archived_reported_and_memory_stays_low(
    tmp_path, name, words
):
    with HostileSite([name]) as site:
        run, peak_mb = crawl_measured(site, tmp_path)
        hits = site.hits(site.cases[0].article_path)
        again, _ = crawl_measured(site, tmp_path)  # the next incremental run tries again
        hits_again = site.hits(site.cases[0].article_path)
    print(f"{name}: crawl peak RSS {peak_mb:.0f} MB")
    assert peak_mb < MAX_RSS_MB, f"{name}: peak RSS {peak_mb:.0f} MB"
    assert run.returncode == 1, run.log
    reason = _reason(run, site, name)
    for word in words:
        assert word in reason, reason
    assert "DownloadCancelledError" not in reason
    stored = run.stored_urls()
    assert site.control_url in stored
    assert site.article_url(name) not in stored
    responses = {r["uri"]: r for r in run.check_warcs() if r["type"] == "response"}
    assert site.fetch_url(name) in responses, "the cut response is archived"
    if name != "gzip_bomb":  # the bomb came whole (977 KB); only its inflation is refused
        rec = responses[site.fetch_url(name)]
        assert rec["headers"].get_header("WARC-Truncated") == "length"
    assert hits_again > hits, "the next run fetched it again"
    assert again.returncode == 1 and _reason(again, site, name)


# -- completeness of a body as received (pure) ----------------------------------------------


def test_a_gzip_bomb_is_judged_without_inflating_it_all():
    bomb = gzip_bomb()
    assert len(bomb) < 2_000_000
    problem = stream_problem(bomb, "gzip", max_size=32 * 1024 * 1024)
    assert problem and "size limit" in problem


def test_whole_and_cut_gzip_streams():
    import gzip

    whole = gzip.compress(b"<html><body>" + b"<p>x</p>" * 5000 + b"</body></html>")
    headers = [(b"Content-Encoding", b"gzip"), (b"Content-Length", str(len(whole)).encode())]
    assert check_body(headers, whole).complete
    half = whole[: len(whole) // 2]
    headers = [(b"Content-Encoding", b"gzip"), (b"Content-Length", str(len(half)).encode())]
    check = check_body(headers, half)
    assert not check.complete and "cut short" in check.problem
    assert check.truncated is None  # the server sent what it promised: not a cut capture
    assert "corrupt" in stream_problem(b"\x1f\x8b\x08\x00garbage-garbage")


def test_length_promised_and_close_delimited_bodies():
    page = b"<html><body><p>x</p></body></html>"
    assert check_body([(b"Content-Length", b"999")], page).truncated == "length"
    assert check_body([(b"Content-Length", b"999")], b"", status=304).complete
    assert check_body([], page, ["partial"]).complete
    cut = check_body([(b"Content-Type", b"text/html")], page[:20], ["partial"])
    assert cut.truncated == "disconnect" and "</html>" in cut.problem
    assert check_body([], page, ["dataloss"]).truncated == "disconnect"
    assert check_body([], page, ["download_stopped"]).truncated == "length"
