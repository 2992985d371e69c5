"""End to end on the mirror: from a towns file of wrong guesses, `towns check` names every
broken column, `towns discover --write` finds each town's news columns (and nothing else),
`towns check` is then all ok and `crawl --towns FILE` archives every article of them."""

from __future__ import annotations

import json
import tomllib

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.e2e import MIRROR_SETTINGS, dgarchive, warc_files
from tests.mocksite import towns as mirror_towns

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
CONTACT = "mailto:archive@example.org"


@pytest.fixture(scope="module")
def site(module_mirror):
    return module_mirror(articles=30, per_page=20)


def towns_cmd(site, action, towns_file, archive, *extra):
    return dgarchive(
        "towns", action, "--towns", str(towns_file), "--site-root", site.url,
        "--archive", str(archive), *MIRROR_SETTINGS, "-s", f"CONTACT_URL={CONTACT}", *extra,
    )  # fmt: skip


def warc_requests(archive):
    out = []
    for path in warc_files(archive):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type == "request":
                    out.append((rec.rec_headers.get_header("WARC-Target-URI"),
                                rec.http_headers.get_header("User-Agent")))  # fmt: skip
    return out


def test_check_names_each_wrong_guess_and_fails(site, tmp_path):
    towns_file = tmp_path / "towns.toml"
    towns_file.write_text(mirror_towns.GUESSED_TOML, encoding="utf-8")
    run = towns_cmd(site, "check", towns_file, tmp_path / "archive")
    assert run.returncode == 1, run.stderr
    rows = {line.split()[0]: line for line in run.stdout.splitlines()[1:]}
    assert "ok" in rows["daojiao/xwzx/zhxw/"].split()
    assert "moved → https://www.dg.gov.cn/daojiao/xwzx/zjdt/" in rows["daojiao/xwzx/zwdt/"]
    assert "not a list page" in rows["daojiao/bsfw/"]
    assert rows["dalang/xwzx/zhxw/"].split()[1] == "gone"
    assert rows["shatian/xwzx/zhxw/"].split()[1] == "gone"
    assert "4 of 5 configured columns are not ok" in run.stderr


def test_discover_write_then_check_then_crawl(site, tmp_path):
    towns_file = tmp_path / "towns.toml"
    towns_file.write_text(mirror_towns.GUESSED_TOML, encoding="utf-8")
    archive = tmp_path / "archive"

    run = towns_cmd(site, "discover", towns_file, archive, "--write")
    assert run.returncode == 0, run.stdout + run.stderr
    # printed per town: path, name, feed id, list pages, newest date
    assert (
        "dalang/dlxw/spxw/\t视频新闻\tfeed 7002\t1 list page\tnewest 2026-10-15\tnew" in run.stdout
    )
    assert (
        "daojiao/xwzx/zhxw/\t综合新闻\tfeed -\t3 list pages\tnewest 2026-10-28\tconfigured"
        in run.stdout
    )
    assert "shatian (沙田): folder /st/" in run.stdout

    data = tomllib.loads(towns_file.read_text(encoding="utf-8"))
    written = {
        t["slug"]: {c["path"]: (c["name"], c.get("feed"), c["verified"]) for c in t["columns"]}
        for t in data["town"]
    }
    expected = {
        town: {path: (name, feed, True) for path, (name, feed, _, _) in cols.items()}
        for town, cols in mirror_towns.EXPECTED.items()
    }
    assert written == expected  # every news column, nothing else (no 通知公告, no 办事)
    assert all(t["verified"] for t in data["town"])
    text = towns_file.read_text(encoding="utf-8")
    assert text.startswith("# A towns file as written before the first live run")
    assert "# the folder is certain, the column is not" in text
    assert "# removed by towns discover: dalang/xwzx/zhxw/ (gone (404))" in text

    # polite and archived: robots.txt first, the contact in every request's User-Agent
    requests = warc_requests(archive)
    urls = [u for u, _ in requests]
    assert urls and urls[0] == site.url + "robots.txt"
    assert site.url + "st/" in urls and site.url + "shatian/" in urls
    assert site.url + "postmeta/i/7002.json" in urls
    assert all(CONTACT in ua for _, ua in requests)

    check = towns_cmd(site, "check", towns_file, tmp_path / "archive2")
    assert check.returncode == 0, check.stdout + check.stderr
    assert len(check.stdout.splitlines()) == 1 + 5

    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    crawl = dgarchive(
        "crawl", "--towns", str(towns_file), "--site-root", site.url,
        "--archive", str(tmp_path / "archive3"), "--db", db, *MIRROR_SETTINGS,
    )  # fmt: skip
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    export = dgarchive("export", "--db", db)
    records = [json.loads(line) for line in export.stdout.splitlines()]
    got = {r["url"] for r in records}
    want = {
        url
        for town in mirror_towns.EXPECTED.values()
        for path in town
        for url in mirror_towns.BY_PATH[path].article_urls()
    }
    assert got == want
    assert {r["site"] for r in records} == {"中国东莞道滘镇", "中国东莞大朗镇", "中国东莞沙田镇"}


def test_unknown_town_and_unreadable_towns_file_are_usage_errors(site, tmp_path):
    towns_file = tmp_path / "towns.toml"
    towns_file.write_text(mirror_towns.GUESSED_TOML, encoding="utf-8")
    run = towns_cmd(site, "check", towns_file, tmp_path / "a", "--town", "nowhere")
    assert run.returncode == 2 and "unknown town 'nowhere'" in run.stderr
    run = dgarchive("crawl", "--towns", str(tmp_path / "missing.toml"), "--site-root", site.url)
    assert run.returncode == 2 and "cannot read towns file" in run.stderr


def test_a_crawl_reports_each_broken_column_once_as_a_configuration_problem(site, tmp_path):
    """Gone (404), moved (301 to another column) and no-longer-a-list columns of the guessed
    file: one failure each, naming the column, and the good column is still crawled."""
    towns_file = tmp_path / "towns.toml"
    towns_file.write_text(mirror_towns.GUESSED_TOML, encoding="utf-8")
    report = tmp_path / "report.json"
    run = dgarchive(
        "crawl", "--towns", str(towns_file), "--site-root", site.url,
        "--archive", str(tmp_path / "archive"), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}",
        "--report", str(report), *MIRROR_SETTINGS,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr[-3000:]
    failures = json.loads(report.read_text())["failures"]
    broken = ["daojiao/xwzx/zwdt/", "daojiao/bsfw/", "dalang/xwzx/zhxw/", "shatian/xwzx/zhxw/"]
    for path in broken:
        mine = [f for f in failures if f"/{path}" in f["url"]]
        assert len(mine) == 1, (path, mine)
        assert mine[0]["reason"].startswith(f"configuration: column {path}"), mine[0]
        assert "dgarchive towns check" in mine[0]["reason"]
    assert "is no longer a list page" in next(f for f in failures if "/daojiao/bsfw/" in f["url"])["reason"]
    assert "HTTP 404" in next(f for f in failures if "/dalang/xwzx/zhxw/" in f["url"])["reason"]
    assert not [f for f in failures if "/daojiao/xwzx/zhxw/" in f["url"]]  # the good column
