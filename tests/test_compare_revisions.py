"""The revision comparator (bench/compare_revisions.py, bench/revision_diff.py) on real crawls:
two crawls of one mirror by the same code compare identical; altered outputs compare different."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bench.compare_revisions import Outcome, Revision, compare_outcomes, run_revision
from bench.revision_diff import (
    KNOWN_CHANGES,
    compare_exit_codes,
    compare_exports,
    compare_reports,
    compare_warcs,
    explain,
    format_table,
    read_archive,
    verdict,
)
from tests.e2e import MIRROR_SETTINGS, REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(module_mirror):
    return module_mirror(articles=40, per_page=10, faults=True)


@pytest.fixture(scope="module")
def runs(site, tmp_path_factory) -> dict[str, tuple[Revision, Outcome]]:
    """The current tree crawls the same mirror twice, through the comparator's own runner."""
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.strip()
    out = {}
    for label in ("before", "after"):
        work = tmp_path_factory.mktemp(label)
        rev = Revision(label, sha, REPO, sys.executable, work)
        out[label] = (rev, run_revision(rev, site.url, MIRROR_SETTINGS))
    return out


def _outcomes(runs):
    (rb, ob), (ra, oa) = runs["before"], runs["after"]
    return ob, oa, rb.work / "archive", ra.work / "archive"


def test_the_same_code_twice_compares_identical(runs):
    ob, oa, arch_b, arch_a = _outcomes(runs)
    aspects = compare_outcomes(ob, oa, arch_b, arch_a)
    explain(aspects)
    table = format_table(aspects)
    print(table)
    assert verdict(aspects) != "DIFFERENT", table
    # The one known change allowed here is the one that varies from run to run of a single
    # revision (which of a redirect and a direct link to one page is requested first).
    racy = [k.why for k in KNOWN_CHANGES if k.varies_between_runs]
    for aspect in aspects:
        assert all(any(why in line for why in racy) for line in aspect.explained), table
    by_name = {a.name: a for a in aspects}
    # Something real was compared: the faults make the crawl exit 1 (partial), and every
    # article, request and response is there on both sides.
    assert ob.exit_codes == {"crawl": 1, "export": 0}
    assert by_name["export records"].before == by_name["export records"].after >= 40
    assert by_name["WARC records"].before == by_name["WARC records"].after > 80
    assert ob.report["failures"], "the fault pages should be reported as failures"
    # The session cookies really differ between the two crawls (the mirror numbers them), so
    # the identity above depends on the masking, not on luck.
    assert _set_cookie_values(arch_b) != _set_cookie_values(arch_a)


def _set_cookie_values(archive: Path) -> list[str]:
    from warcio.archiveiterator import ArchiveIterator

    values = []
    for path in sorted(archive.glob("*.warc.gz")):
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.http_headers is not None and rec.rec_type == "response":
                    values += [v for k, v in rec.http_headers.headers if k.lower() == "set-cookie"]
    return sorted(values)


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _dump(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def test_an_altered_export_compares_different(runs):
    ob, oa, *_ = _outcomes(runs)
    records = _lines(oa.export)
    changed = copy.deepcopy(records)
    changed[3]["text"] += "。"
    url = changed[3]["url"]
    aspect = compare_exports(ob.export, _dump(changed))
    assert not aspect.same
    assert aspect.differences == [
        f"{url}: text: {_short_diff(records[3]['text'], changed[3]['text'])}"
    ]

    missing = compare_exports(ob.export, _dump(records[1:]))
    assert missing.differences == [f"{records[0]['url']}: only before"]

    digest = copy.deepcopy(records)
    digest[0]["capture"]["payload_digest"] = "sha1:" + "A" * 32
    assert not compare_exports(ob.export, _dump(digest)).same


def _short_diff(a: str, b: str) -> str:
    from bench.revision_diff import _short

    return f"{_short(a)} != {_short(b)}"


def test_where_and_when_a_capture_was_stored_do_not_count(runs):
    ob, oa, *_ = _outcomes(runs)
    records = _lines(oa.export)
    moved = copy.deepcopy(records)
    for r in moved:
        r["capture"].update(
            warc_filename="OTHER.warc.gz",
            warc_offset=r["capture"]["warc_offset"] + 1,
            warc_length=1,
            warc_record_id="<urn:uuid:00000000-0000-0000-0000-000000000000>",
            fetched_at="2000-01-01T00:00:00Z",
        )
    moved.reverse()  # export order is not compared either: records are sorted by url
    assert compare_exports(ob.export, _dump(moved)).same


def test_an_altered_warc_record_compares_different(runs):
    (rb, _), (ra, _) = runs["before"], runs["after"]
    before = read_archive(rb.work / "archive")
    after = read_archive(ra.work / "archive")
    assert compare_warcs(before, after).same

    uri = next(u for u in after if u.endswith(".html"))
    altered = {u: Counter(c) for u, c in after.items()}
    record = next(iter(altered[uri]))
    changed = tuple(
        "WARC-Payload-Digest: sha1:" + "B" * 32 if line.startswith("WARC-Payload-Digest") else line
        for line in record
    )
    altered[uri][record] -= 1
    altered[uri] = +altered[uri]
    altered[uri][changed] += 1
    aspect = compare_warcs(before, altered)
    assert len(aspect.differences) == 2
    assert all(d.startswith(uri + ": 1x only ") for d in aspect.differences)

    dropped = {u: c for u, c in after.items() if u != uri}
    assert any(d.startswith(uri) for d in compare_warcs(before, dropped).differences)


def test_report_counters_and_exit_codes_compare(runs):
    ob, oa, *_ = _outcomes(runs)
    ob = Outcome(ob.exit_codes, ob.export, oa.report, ob.seconds)  # one report, altered below
    assert compare_reports(ob.report, oa.report).same
    other = copy.deepcopy(oa.report)
    other["new_articles"] += 1
    other["responses_by_status"]["200"] -= 1
    aspect = compare_reports(ob.report, other)
    assert [d.split(":")[0] for d in aspect.differences] == ["responses_by_status", "new_articles"]
    # bytes_written is the gzip size of records whose ids and dates differ: a few bytes are a
    # note, a real change in what was written is a difference.
    near = copy.deepcopy(oa.report)
    near["bytes_written"] += 3
    assert compare_reports(ob.report, near).same
    far = copy.deepcopy(oa.report)
    far["bytes_written"] = int(far["bytes_written"] * 1.05)
    assert not compare_reports(ob.report, far).same

    assert not compare_exit_codes(ob.exit_codes, {**oa.exit_codes, "crawl": 0}).same


def test_known_changes_are_listed_apart_and_matched_narrowly(runs):
    _, oa, *_ = _outcomes(runs)
    ob = oa  # both sides from one report: the run-to-run redirect race stays out of it
    cut = next(f["url"] for f in oa.report["failures"] if f["url"].endswith("post_3900205.html"))
    old = copy.deepcopy(ob.report)
    for f in old["failures"]:
        if f["url"] == cut:
            f["reason"] = "connection closed before the whole body arrived"
    aspects = [compare_reports(old, oa.report)]
    explain(aspects)
    assert verdict(aspects) == "IDENTICAL EXCEPT KNOWN CHANGES"
    assert "issue 9" in format_table(aspects)

    wrong = copy.deepcopy(ob.report)
    for f in wrong["failures"]:
        if f["url"] == cut:
            f["reason"] = "HTTP 500"
    aspects = [compare_reports(wrong, oa.report)]
    explain(aspects)
    assert verdict(aspects) == "DIFFERENT"


def test_a_request_from_another_linking_page_is_a_note_not_a_difference(runs):
    (_, _), (ra, _) = runs["before"], runs["after"]
    after = read_archive(ra.work / "archive")
    uri, record = next(
        (u, lines)
        for u, c in after.items()
        for lines in c
        if any(line.startswith("Referer: ") for line in lines)
    )

    def with_line(old: str, new: str) -> dict:
        altered = {u: Counter(c) for u, c in after.items()}
        changed = tuple(new if line.startswith(old) else line for line in record)
        altered[uri][record] -= 1
        altered[uri] = +altered[uri]
        altered[uri][changed] += 1
        return altered

    referer = compare_warcs(after, with_line("Referer: ", "Referer: http://elsewhere/"))
    assert referer.same
    assert "1 URIs requested from another linking page" in "; ".join(referer.notes)
    agent = compare_warcs(after, with_line("User-Agent: ", "User-Agent: other"))
    assert not agent.same


def test_the_redirect_race_is_a_known_change_in_either_direction(runs):
    _, oa, *_ = _outcomes(runs)
    # The 301 on this mirror, whether or not this run reported it.
    redirect = oa.report["failures"][0]["url"].rsplit("/", 1)[0] + "/post_3900202.html"
    target = redirect.replace("post_3900202", "post_3987862")
    with_race = copy.deepcopy(oa.report)
    with_race["failures"] = [f for f in with_race["failures"] if f["url"] != redirect]
    without = copy.deepcopy(with_race)
    with_race["failures"].append(
        {
            "url": redirect,
            "reason": f"redirected to {target}, which this crawl already fetched (duplicate)",
        }
    )
    for a, b in ((with_race, without), (without, with_race)):
        aspects = [compare_reports(a, b)]
        explain(aspects)
        assert verdict(aspects) == "IDENTICAL EXCEPT KNOWN CHANGES"
    other = copy.deepcopy(without)
    other["failures"].append({"url": redirect, "reason": "HTTP 404"})
    aspects = [compare_reports(without, other)]
    explain(aspects)
    assert verdict(aspects) == "DIFFERENT"
