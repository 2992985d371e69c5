"""End to end at the size the archivist's issue names: a WACZ of a 2,000-article crawl passes
`wacz validate` (py-wacz), and its structure is what the WACZ 1.1.1 spec and ReplayWeb.page
read — checked here from the zip itself, not through dgarchive's own code: a ZipNum index
(`index.idx` naming gzip blocks of `index.cdx.gz` by offset and length) whose blocks decompress
to sorted CDXJ lines, a capture in that index for every page of pages.jsonl at its `ts`, and
each article of the database exactly once."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.e2e import crawl_mirror, dgarchive

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
BIN = Path(sys.executable).parent
ARTICLES = 2000


def _ts14(iso: str) -> str:
    """`2026-12-02T12:30:54Z` (pages.jsonl) as the 14-digit CDXJ timestamp."""
    return "".join(ch for ch in iso if ch.isdigit())[:14]


def _zipnum_lines(zf: zipfile.ZipFile) -> list[str]:
    """Every CDXJ line of the package's ZipNum index, read block by block through index.idx
    the way a replay tool does (offset and length into index.cdx.gz)."""
    blob = zf.read("indexes/index.cdx.gz")
    idx = zf.read("indexes/index.idx").decode("utf-8").splitlines()
    assert idx[0].startswith("!meta 0 "), idx[0]
    meta = json.loads(idx[0].split(" ", 2)[2])
    assert meta["format"] == "cdxj-gzip-1.0" and meta["filename"] == "index.cdx.gz"
    lines: list[str] = []
    blocks = [line for line in idx[1:] if line.strip()]
    assert blocks
    for block in blocks:
        key, _, fields = block.partition(" ")
        loc = json.loads(fields.split(" ", 1)[1])
        chunk = blob[loc["offset"]: loc["offset"] + loc["length"]]
        text = gzip.decompress(chunk).decode("utf-8").splitlines()
        # A block's idx key is its first line's key: that is how replay finds a block.
        assert text and text[0].split(" ", 1)[0] == key.split(" ", 1)[0]
        lines.extend(text)
    # The blocks tile the whole file: nothing of it is unreachable from the idx.
    last = json.loads(blocks[-1].split(" ", 1)[1].split(" ", 1)[1])
    assert last["offset"] + last["length"] == len(blob)
    return lines


def test_wacz_of_a_2000_article_crawl_validates_and_indexes_every_page(mirror, tmp_path):
    site = mirror(articles=ARTICLES, per_page=20)
    archive, db = tmp_path / "archive", f"sqlite:///{tmp_path / 'db.sqlite'}"
    run = crawl_mirror(site.url, archive, db)
    assert run.returncode == 0, run.stderr[-3000:]
    export = dgarchive("export", "--db", db)
    assert export.returncode == 0, export.stderr
    records = [json.loads(line) for line in export.stdout.splitlines()]
    assert len(records) >= ARTICLES

    out = tmp_path / "crawl.wacz"
    made = dgarchive("wacz", "--archive", str(archive), "--db", db, "--output", str(out))
    assert made.returncode == 0, made.stderr
    check = subprocess.run([str(BIN / "wacz"), "validate", "-f", str(out)],
                           capture_output=True, text=True, timeout=600)
    assert check.returncode == 0 and "the passed WACZ is valid" in check.stdout, (
        check.stdout[-2000:] + check.stderr[-2000:])

    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert {"datapackage.json", "datapackage-digest.json", "pages/pages.jsonl",
                "indexes/index.cdx.gz", "indexes/index.idx"} <= names
        package = json.loads(zf.read("datapackage.json"))
        pages = [json.loads(x) for x in zf.read("pages/pages.jsonl").decode().splitlines()]
        cdxj = _zipnum_lines(zf)

    assert package["profile"] == "data-package" and package["wacz_version"] == "1.1.1"
    assert pages[0]["format"] == "json-pages-1.0" and pages[0]["id"] == "pages"
    pages = pages[1:]
    assert cdxj == sorted(cdxj)
    captured = set()
    for line in cdxj:
        _key, ts, fields = line.split(" ", 2)
        captured.add((json.loads(fields)["url"], ts))
    # Every article exactly once, by its captured URL, and replay finds it at that moment.
    by_url = {r["capture"]["target_uri"]: r for r in records}
    assert len(pages) == len({p["url"] for p in pages}) == len(by_url)
    assert {p["url"] for p in pages} == set(by_url)
    missing = [p["url"] for p in pages if (p["url"], _ts14(p["ts"])) not in captured]
    assert not missing, missing[:5]
