"""`export` (JSON lines, CSV, --since) and `reindex` from WARC files written here with warcio:
the rebuilt database holds the records the crawl's own extraction gives, with captures that
point at the right records, and exports exactly like a database the pipeline filled."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.exporting import run_export, with_replay_url
from crawler.reindexing import run_reindex
from pipelines.database import DatabasePipeline
from pipelines.pages import extract_record
from pipelines.store import RecordStore, make_engine, upgrade
from tests.conftest_db import contract, exported, interview_record, plain_record, row_counts

SITE = "http://127.0.0.1:8123/"
CANONICAL = "https://www.dg.gov.cn/"
COLUMN = "houjie/cjjs/tshj/"

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="SiteName" content="中国东莞厚街镇"><meta name="ColumnName" content="图说厚街">
<meta name="ArticleTitle" content="{title}"><meta name="PubDate" content="{date}">
<meta name="ContentSource" content="本网"><title>城镇建设_图说厚街_中国东莞厚街镇</title></head>
<body><div class="con_cen"><div wzades="正文"><ucapcontent>{body}</ucapcontent></div></div>
</body></html>"""

INTERVIEW_BODY = """<p>访谈嘉宾：寮厦社区党委书记 詹静</p>
<p>内容简介：寮厦社区党委书记詹静表示，今年是开局之年。</p><p>访谈记录</p>
<p>关键词1：谈目标</p><p>锚定高质量发展</p>
<p>厚街发布：请问寮厦社区制定了怎样的目标计划？</p>
<p>詹静：今年寮厦社区围绕重点项目建设，积极扩大有效投资。</p><p>{extra}</p>
<p><img src="/attachment/0/1/2/3.jpg" alt="微信图片_20230227101143.jpg"></p>"""


def page(title: str, body: str, when: str = "2023-02-27 10:14") -> bytes:
    return PAGE.format(title=title, date=when, body=body).encode("utf-8")


INTERVIEW_V1 = page(
    "一把手访谈|寮厦：今年计划投4000万推进乡村振兴", INTERVIEW_BODY.format(extra="第二段回答。")
)
INTERVIEW_V2 = page(
    "一把手访谈|寮厦：今年计划投4000万推进乡村振兴",
    INTERVIEW_BODY.format(extra="第二段回答，已更新。"),
)
NEWS = page(
    "厚街镇举办招商推介会",
    "<p>厚街镇举办招商推介会。</p><p>现场签约项目十个。</p>",
    "2024-05-06 09:00",
)


def article(n: int) -> tuple[str, str]:
    path = f"{COLUMN}content/post_{n}.html"
    return SITE + path, CANONICAL + path


def write_warc(path: Path, exchanges: list[dict]) -> list[dict]:
    """Write a gzipped WARC (warcinfo naming the mirror, then the exchanges) and return, for
    each exchange, where its record landed as a capture dict."""
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        writer.write_record(
            writer.create_warcinfo_record(
                path.name, {"software": "test", "dgarchive-site-root": SITE}
            )
        )
        for ex in exchanges:
            headers = {"WARC-Date": ex["date"]}
            if ex.get("revisit_of"):
                http = StatusAndHeaders("304 Not Modified", [("ETag", '"v1"')], protocol="HTTP/1.1")
                rec = writer.create_revisit_record(
                    ex["uri"],
                    ex["revisit_of"]["payload_digest"],
                    ex["uri"],
                    ex["revisit_of"]["fetched_at"],
                    http_headers=http,
                    warc_headers_dict=headers,
                )
                rec.rec_headers.add_header(
                    "WARC-Profile",
                    "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
                )
            else:
                http = StatusAndHeaders(
                    f"{ex.get('status', 200)} {'OK' if ex.get('status', 200) == 200 else 'Not Found'}",
                    [("Content-Type", "text/html; charset=utf-8"), ("ETag", '"v1"')],
                    protocol="HTTP/1.1",
                )
                rec = writer.create_warc_record(
                    ex["uri"],
                    "response",
                    payload=io.BytesIO(ex["body"]),
                    http_headers=http,
                    warc_headers_dict=headers,
                )
            writer.write_record(rec)
    captures = []
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        for record in it:
            if record.rec_type == "warcinfo":
                continue
            h = record.rec_headers
            captures.append(
                {
                    "warc_filename": path.name,
                    "warc_offset": it.get_record_offset(),
                    "warc_record_id": h.get_header("WARC-Record-ID"),
                    "payload_digest": h.get_header("WARC-Payload-Digest"),
                    "fetched_at": h.get_header("WARC-Date"),
                    "target_uri": h.get_header("WARC-Target-URI"),
                    "status": int(record.http_headers.get_statuscode()),
                }
            )
            record.raw_stream.read()
            captures[-1]["warc_length"] = it.get_record_length()
    return captures


@pytest.fixture
def archive(tmp_path) -> dict:
    """Two crawls' WARC files: day 1 fetches an interview, a news article, a list page and a
    missing article; day 2 finds the interview changed and the news article unchanged (304)."""
    root = tmp_path / "archive"
    root.mkdir()
    (i_uri, i_url), (n_uri, n_url), (gone_uri, _) = (
        article(3987862),
        article(4000001),
        article(4000404),
    )
    day1 = write_warc(
        root / "DGARCHIVE-20261122001500000-00000-test.warc.gz",
        [
            {
                "uri": SITE + COLUMN,
                "body": b"<html>list page</html>",
                "date": "2026-11-22T00:15:00Z",
            },
            {"uri": i_uri, "body": INTERVIEW_V1, "date": "2026-11-22T00:15:01Z"},
            {"uri": n_uri, "body": NEWS, "date": "2026-11-22T00:15:02Z"},
            {"uri": gone_uri, "body": b"not found", "date": "2026-11-22T00:15:03Z", "status": 404},
        ],
    )
    day2 = write_warc(
        root / "DGARCHIVE-20261123001500000-00000-test.warc.gz",
        [
            {"uri": i_uri, "body": INTERVIEW_V2, "date": "2026-11-23T00:15:01Z"},
            {"uri": n_uri, "date": "2026-11-23T00:15:02Z", "revisit_of": day1[2]},
        ],
    )
    # A file a crawl is still writing (or died writing): reindex leaves it alone.
    (root / "DGARCHIVE-20261124001500000-00000-test.warc.gz.open").write_bytes(b"partial")
    return {
        "root": root,
        "interview": (i_url, day1[1], day2[0]),
        "news": (n_url, day1[2], day2[1]),
    }


def expected_record(body: bytes, url: str, capture: dict) -> dict:
    record = extract_record(body, url, encoding="utf-8")
    record["capture"] = capture
    return with_replay_url(exported(record))


def export_lines(db_url: str, **kwargs) -> list[dict]:
    out = io.StringIO()
    assert run_export(db_url, out=out, **kwargs) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_reindex_rebuilds_the_database_from_warcs(archive, db_url):
    out, err = io.StringIO(), io.StringIO()
    assert run_reindex(archive["root"], db_url, out, err) == 0
    assert ".warc.gz.open" in err.getvalue() and "skipping" in err.getvalue()
    assert "2 new, 1 changed" in out.getvalue() and "1 revisits" in out.getvalue()

    i_url, _, i_day2 = archive["interview"]
    n_url, n_day1, n_day2 = archive["news"]
    assert [contract(r) for r in export_lines(db_url)] == [
        expected_record(INTERVIEW_V2, i_url, i_day2),  # the newer version is current
        expected_record(NEWS, n_url, n_day1),  # the revisit does not replace the response
    ]
    with RecordStore(db_url) as store:
        known = store.known_articles()
    assert set(known) == {i_url, n_url}  # the list page and the 404 are no articles
    assert known[n_url]["last_seen_at"] == n_day2["fetched_at"]
    assert known[n_url]["etag"] == '"v1"'


def test_reindexing_again_adds_nothing(archive, sqlite_url):
    run_reindex(archive["root"], sqlite_url, io.StringIO(), io.StringIO())
    first = export_lines(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        before = row_counts(engine)
        before.pop("crawl_runs")
        out = io.StringIO()
        assert run_reindex(archive["root"], sqlite_url, out, io.StringIO()) == 0
        after = row_counts(engine)
        assert after.pop("crawl_runs") == 2  # each reindex is a run
        assert after == before
    finally:
        engine.dispose()
    assert "0 new, 0 changed" in out.getvalue()
    assert export_lines(sqlite_url) == first


def test_reindex_export_equals_the_export_of_the_crawl_pipeline(archive, tmp_path):
    """The crawl's items for the same exchanges, as the spider yields them (record + capture
    with validators + town + column path; revisit items), through the item pipelines in
    their crawl order: CleaningPipeline, then DatabasePipeline."""
    from pipelines.cleaning import CleaningPipeline

    i_url, i_day1, i_day2 = archive["interview"]
    n_url, n_day1, n_day2 = archive["news"]
    validators = {"etag": '"v1"', "last_modified": None}

    def item(body, url, capture):
        record = extract_record(body, url, encoding="utf-8")
        record.update(capture={**capture, **validators}, town="houjie", column_path=COLUMN)
        return record

    items = [
        item(INTERVIEW_V1, i_url, i_day1),
        item(NEWS, n_url, n_day1),
        item(INTERVIEW_V2, i_url, i_day2),
        {"revisit": True, "url": n_url, "capture": {**n_day2, **validators}, "town": "houjie"},
    ]
    live = f"sqlite:///{tmp_path / 'live.sqlite'}"
    pipeline = DatabasePipeline(live, batch_size=3)

    async def crawl():
        await pipeline.open_spider()
        cleaner = CleaningPipeline()
        for it in items:
            await pipeline.process_item(cleaner.process_item(it))
        await pipeline.close_spider()
        await pipeline.spider_closed(reason="finished")

    asyncio.run(crawl())
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.sqlite'}"
    assert run_reindex(archive["root"], rebuilt, io.StringIO(), io.StringIO()) == 0
    assert export_lines(rebuilt) == export_lines(live)
    with RecordStore(live) as a, RecordStore(rebuilt) as b:
        assert a.known_articles() == b.known_articles()


@pytest.mark.parametrize("reader_process", [False, True])
def test_reindex_imports_neither_scrapy_nor_itemadapter(archive, tmp_path, reader_process):
    """Reindex runs no crawl: Scrapy (with Twisted) and itemadapter (with pydantic) would
    cost it about 0.4 CPU-s of imports, in both its processes."""
    code = (
        "import io, sys\n"
        "from crawler.reindexing import run_reindex\n"
        f"rc = run_reindex({str(archive['root'])!r}, {'sqlite:///' + str(tmp_path / 'r.sqlite')!r},"
        f" io.StringIO(), io.StringIO(), reader_process={reader_process})\n"
        "print(rc, sorted(m for m in ('scrapy', 'twisted', 'itemadapter') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdout.split("\n")[-2:] == ["0 []", ""], proc.stdout + proc.stderr


def test_unreadable_files_and_pages_are_reported_and_the_rest_is_kept(archive, sqlite_url):
    (archive["root"] / "DGARCHIVE-20261121000000000-00000-test.warc.gz").write_bytes(
        b"this is not a WARC file at all"
    )
    bad_uri, _ = article(4000777)
    write_warc(
        archive["root"] / "DGARCHIVE-20261125000000000-00000-test.warc.gz",
        [{"uri": bad_uri, "body": b"", "date": "2026-11-25T00:00:00Z"}],  # an empty page
    )
    out, err = io.StringIO(), io.StringIO()
    assert run_reindex(archive["root"], sqlite_url, out, err) == 1
    messages = err.getvalue()
    assert "DGARCHIVE-20261121000000000-00000-test.warc.gz" in messages
    assert "post_4000777.html" in messages
    assert all(line.startswith("dgarchive: ") for line in messages.splitlines())
    assert len(export_lines(sqlite_url)) == 2


def test_reindex_without_an_archive_directory_is_a_usage_error(tmp_path, sqlite_url):
    err = io.StringIO()
    assert run_reindex(tmp_path / "nowhere", sqlite_url, io.StringIO(), err) == 2
    assert "nowhere" in err.getvalue()


# --------------------------------------------------------------------------- export


@pytest.fixture
def filled(db_url) -> str:
    upgrade(db_url)
    with RecordStore(db_url) as store:
        store.save([plain_record(2), interview_record(), plain_record(1)], None)
    return db_url


def test_export_jsonl_is_the_contract_record_plus_capture_in_url_order(filled):
    out = io.StringIO()
    assert run_export(filled, "jsonl", None, out) == 0
    text = out.getvalue()
    assert "謝衛東" in text  # UTF-8, not \\u escapes
    lines = [json.loads(line) for line in text.splitlines()]
    expected = sorted(
        [with_replay_url(exported(r)) for r in (plain_record(2), interview_record(), plain_record(1))],
        key=lambda r: r["url"],
    )
    assert [contract(r) for r in lines] == expected
    assert list(lines[0]) == [
        "url", "site", "column", "title", "published_at", "source", "script", "text",
        "images", "interview", "anomalies", "capture",
        "article_id", "version", "content_hash", "status", "replay_url",
    ]  # fmt: skip


def test_export_since_filters_by_publication_date_in_china_time(filled):
    # interview_record: 2025-02-27 21:05 +08:00 (13:05 UTC); plain records: March 2023.
    assert [r["url"] for r in export_lines(filled, since=date(2025, 2, 27))] == [
        interview_record()["url"]
    ]
    assert export_lines(filled, since=date(2025, 2, 28)) == []
    assert len(export_lines(filled, since=date(2023, 3, 3))) == 2


def test_export_csv_has_one_row_per_article(filled):
    out = io.StringIO()
    run_export(filled, "csv", None, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["url"] for r in rows] == sorted(
        r["url"] for r in (plain_record(1), plain_record(2), interview_record())
    )
    interview = next(r for r in rows if r["url"] == interview_record()["url"])
    assert interview["interview_guests"] == "謝衛東 (東莞市厚街鎮黨委書記)"
    assert interview["interview_turns"] == "4"
    assert json.loads(interview["interview"]) == interview_record()["interview"]
    assert interview["text"] == interview_record()["text"]  # newlines survive quoting
    assert interview["warc_record_id"] == interview_record()["capture"]["warc_record_id"]
    plain = next(r for r in rows if r["url"] == plain_record(1)["url"])
    assert (plain["interview"], plain["interview_turns"], plain["images"]) == ("", "", "[]")


def test_export_of_a_database_without_schema_is_empty(sqlite_url):
    make_engine(sqlite_url).dispose()
    engine = make_engine(sqlite_url)
    with engine.connect():
        pass  # the file exists, no migration applied
    engine.dispose()
    assert export_lines(sqlite_url) == []


def test_export_refuses_an_unknown_format(filled):
    with pytest.raises(ValueError, match="xml"):
        run_export(filled, "xml", None, io.StringIO())


def test_replay_url_is_the_capture_path_under_dgarchive_replay():
    from crawler.exporting import with_replay_url

    rec = with_replay_url(
        {"capture": {"fetched_at": "2026-11-22T00:15:00Z", "target_uri": "http://h:1/a.html"}}
    )
    assert rec["replay_url"] == "/dgarchive/20261122001500/http://h:1/a.html"
    assert with_replay_url({"capture": None})["replay_url"] is None
