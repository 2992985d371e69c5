"""Bad bodies never become records; deep markup, bad dates, file: images and bogus charsets.

One crawl of the hostile site serves every case of `tests/hostile/cases/bodies.py`, then a
second, incremental crawl on the same archive and database shows that every refused article
is fetched again (it was not stored as known).
"""

from __future__ import annotations

import json

import pytest

from tests.e2e import dgarchive
from tests.hostile import HostileSite
from tests.hostile.cases.bodies import BAD
from tests.hostile.harness import crawl_hostile

GOOD = ["deep_font", "impossible_date", "file_image", "bogus_charset"]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bodies")
    with HostileSite([*BAD, *GOOD]) as site:
        first = crawl_hostile(site, tmp)
        paths = {c.name: c.article_path for c in site.cases}
        hits_first = {name: site.hits(path) for name, path in paths.items()}
        second = crawl_hostile(site, tmp)
        hits_second = {name: site.hits(path) for name, path in paths.items()}
        yield site, first, second, hits_first, hits_second


def _reason(failures: dict[str, str], site, name: str) -> str | None:
    """The reported reason for case `name`, under its canonical or its fetch URL."""
    for url in (site.article_url(name), site.fetch_url(name)):
        if url in failures:
            return failures[url]
    return None


def _record(run, site, name):
    url = site.article_url(name)
    return next(r for r in run.records if r["url"] == url)


def test_the_run_exits_1_and_reports_each_bad_body_under_its_url(crawled):
    site, first, *_ = crawled
    assert first.returncode == 1, first.log
    failures = first.failures()
    for name, word in BAD.items():
        reason = _reason(failures, site, name)
        assert reason is not None, f"{name} not reported: {failures}"
        assert word.lower() in reason.lower(), (name, reason)
    assert set(first.failures()) <= {site.article_url(n) for n in BAD} | {
        site.fetch_url(n) for n in BAD
    }, "only the bad bodies fail"


def test_no_bad_body_is_stored_and_the_control_is(crawled):
    site, first, *_ = crawled
    stored = first.stored_urls()
    assert site.control_url in stored
    for name in BAD:
        assert site.article_url(name) not in stored, name


def test_every_bad_body_is_archived_and_the_warcs_check(crawled):
    site, first, *_ = crawled
    records = first.check_warcs()
    responses = {r["uri"]: r for r in records if r["type"] == "response"}
    for name in BAD:
        assert site.fetch_url(name) in responses, f"{name} not archived"
    # Cut captures say so in the WARC; the half gzip is kept as received (warcio's
    # content stream inflates what there is of it: the page's start, not its end).
    cut = responses[site.fetch_url("no_length_closed")]
    assert cut["headers"].get_header("WARC-Truncated") == "disconnect"
    half = responses[site.fetch_url("gzip_cut_half")]
    assert half["http"].get_header("Content-Encoding") == "gzip"
    assert half["body"].startswith(b"<!DOCTYPE html>") and b"</html>" not in half["body"]


def test_the_next_incremental_run_fetches_every_refused_article_again(crawled):
    site, first, second, hits_first, hits_second = crawled
    assert second.returncode == 1, second.log
    for name in BAD:
        assert hits_first[name] >= 1
        assert hits_second[name] > hits_first[name], f"{name} was skipped as known"
        assert _reason(second.failures(), site, name), name
    # Stored articles are known: the second run does not fetch them.
    for name in GOOD:
        assert hits_second[name] == hits_first[name], name


def test_markup_deeper_than_libxml2s_limit_keeps_all_400_paragraphs(crawled):
    site, first, *_ = crawled
    record = _record(first, site, "deep_font")
    paragraphs = [line for line in record["text"].split("\n") if "段：" in line]
    assert len(paragraphs) == 400
    assert paragraphs[-1].startswith("第400段")


def test_an_impossible_date_is_stored_as_no_date_with_an_anomaly(crawled):
    site, first, *_ = crawled
    record = _record(first, site, "impossible_date")
    assert record["published_at"] is None
    kinds = {a["kind"]: a["detail"] for a in record["anomalies"]}
    assert "2023-02-30 10:14" in kinds["invalid_date"]


def test_file_image_urls_are_not_kept(crawled):
    site, first, *_ = crawled
    record = _record(first, site, "file_image")
    srcs = [i["src"] for i in record["images"]]
    assert srcs == ["https://www.dg.gov.cn/houjie/cjjs/images/photo2.jpg"]


def test_extract_and_the_crawl_decode_a_bogus_charset_the_same_way(crawled):
    site, first, *_ = crawled
    stored = _record(first, site, "bogus_charset")
    assert "厚街镇持续推进城市更新" in stored["text"]
    assert {"kind": "unknown_charset", "detail": "http: x-bogus"} in stored["anomalies"]
    extracted = {}
    for path in first.warc_paths():
        run = dgarchive("extract", str(path))
        for line in run.stdout.splitlines():
            rec = json.loads(line)
            extracted[rec["url"]] = rec
    again = extracted[site.article_url("bogus_charset")]
    for key in ("title", "text", "published_at", "anomalies"):
        assert again[key] == stored[key], key
