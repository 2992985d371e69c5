"""`dgarchive extract`: `crawler.extracting.run` on HTML files and on WARC files written here."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.extracting import run
from pipelines.pages import extract_record
from pipelines.pages.encoding import http_charset

PAGES = Path(__file__).parent / "fixtures" / "pages"
MIRROR = "http://127.0.0.1:8123/"
ARTICLE_004 = "houjie/cjjs/tshj/content/post_3987862.html"
ARTICLE_GBK = "houjie/xwzx/zhxw/content/post_1187342.html"


def _page(case: str) -> bytes:
    return (PAGES / case / "input.html").read_bytes()


def _expected(case: str) -> dict:
    return json.loads((PAGES / case / "expected.json").read_text(encoding="utf-8"))


def _run(path, url=None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = run(str(path), url, out, err)
    return rc, out.getvalue(), err.getvalue()


def _one_line_error(err: str) -> bool:
    return err.count("\n") == 1 and err.startswith("dgarchive extract: ") and "Traceback" not in err


# --- HTML files ------------------------------------------------------------------------------
def test_html_file_prints_its_record(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(_page("interview_004_server_hans"))
    expected = _expected("interview_004_server_hans")
    rc, out, err = _run(path, expected["url"])
    assert (rc, err) == (0, "")
    assert out.endswith("\n") and out.count("\n") == 1
    assert json.loads(out) == expected
    assert "寮厦" in out  # ensure_ascii=False: the JSON is readable UTF-8


def test_html_file_url_defaults_to_a_file_url(tmp_path: Path) -> None:
    path = tmp_path / "saved page.html"
    path.write_bytes(_page("news_server_hans"))
    rc, out, _ = _run(path)
    record = json.loads(out)
    assert rc == 0
    assert record["url"] == path.resolve().as_uri()
    assert record["url"].startswith("file:///") and "saved%20page.html" in record["url"]
    assert "capture" not in record


def test_gbk_file(tmp_path: Path) -> None:
    path = tmp_path / "gbk.html"
    path.write_bytes(_page("news_gbk_meta_charset"))
    rc, out, _ = _run(path, _expected("news_gbk_meta_charset")["url"])
    assert rc == 0 and json.loads(out) == _expected("news_gbk_meta_charset")


def test_page_without_body_is_a_record_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "nobody.html"
    path.write_bytes(_page("no_body_error_page"))
    rc, out, err = _run(path)
    assert (rc, err) == (0, "")
    assert "body_not_found" in [a["kind"] for a in json.loads(out)["anomalies"]]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        (b" \n\t\n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "not a text page"),
    ],
)
def test_unusable_file_is_a_one_line_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(content)
    rc, out, err = _run(path)
    assert (rc, out) == (1, "")
    assert _one_line_error(err) and message in err


def test_missing_file(tmp_path: Path) -> None:
    rc, out, err = _run(tmp_path / "nope.html")
    assert (rc, out) == (1, "") and _one_line_error(err) and "no such file" in err


def test_directory(tmp_path: Path) -> None:
    rc, out, err = _run(tmp_path)
    assert (rc, out) == (1, "") and _one_line_error(err)


def test_truncated_html_file(tmp_path: Path) -> None:
    body = _page("interview_000_server_hans")
    path = tmp_path / "cut.html"
    path.write_bytes(body[: len(body) // 2])
    rc, out, err = _run(path)
    record = json.loads(out)
    assert (rc, err) == (0, "")
    assert "truncated" in [a["kind"] for a in record["anomalies"]]
    assert record["text"]


# --- WARC files ------------------------------------------------------------------------------
def _response(
    writer: WARCWriter,
    path: str,
    body: bytes,
    *,
    status: str = "200 OK",
    content_type: str = "text/html; charset=utf-8",
    gzipped: bool = False,
):
    headers = [("Content-Type", content_type)]
    if gzipped:
        body = gzip.compress(body)
        headers.append(("Content-Encoding", "gzip"))
    headers.append(("Content-Length", str(len(body))))
    http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
    return writer.create_warc_record(
        MIRROR + path, "response", payload=io.BytesIO(body), http_headers=http
    )


def _write_warc(path: Path, records) -> Path:
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=path.name.endswith(".gz"))
        info = writer.create_warcinfo_record(
            path.name, {"software": "dgarchive-test", "dgarchive-site-root": MIRROR}
        )
        writer.write_record(info)
        for make in records:
            writer.write_record(make(writer))
    return path


def _article_warc(tmp_path: Path, name: str = "crawl.warc.gz") -> Path:
    return _write_warc(
        tmp_path / name,
        [
            lambda w: _response(w, "houjie/cjjs/tshj/", b"<html><body>list</body></html>"),
            lambda w: _response(w, ARTICLE_004, _page("interview_004_server_hans"), gzipped=True),
            lambda w: _response(w, "houjie/images/logo.png", b"\x89PNG\r\n", content_type="image/png"),
            lambda w: _response(
                w, "houjie/cjjs/tshj/content/post_3999999.html", b"<html>gone</html>",
                status="404 Not Found",
            ),
            lambda w: _response(
                w, ARTICLE_GBK, _page("news_gbk_meta_charset"),
                content_type="text/html; charset=GBK",
            ),
        ],
    )  # fmt: skip


@pytest.mark.parametrize("name", ["crawl.warc.gz", "crawl.warc"])
def test_warc_prints_one_line_per_article_response(tmp_path: Path, name: str) -> None:
    path = _article_warc(tmp_path, name)
    rc, out, err = _run(path)
    assert (rc, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 2
    records = [json.loads(x) for x in lines]
    cases = ["interview_004_server_hans", "news_gbk_meta_charset"]
    for record, case in zip(records, cases, strict=True):
        capture = record.pop("capture")
        assert record == _expected(case)  # canonical URL, same record as the HTML file
        assert capture["warc_filename"] == name
        assert capture["target_uri"].startswith(MIRROR)
        assert capture["status"] == 200
        assert capture["warc_record_id"].startswith("<urn:uuid:")
        assert capture["payload_digest"].startswith("sha1:")
        assert isinstance(capture["warc_offset"], int)


def test_warc_found_by_content_whatever_its_name(tmp_path: Path) -> None:
    path = _article_warc(tmp_path, "crawl.warc.gz")
    renamed = path.rename(tmp_path / "download.bin")
    rc, out, _ = _run(renamed)
    assert rc == 0 and len(out.splitlines()) == 2


def test_warc_records_equal_extraction_of_the_same_bytes(tmp_path: Path) -> None:
    rc, out, _ = _run(_article_warc(tmp_path))
    first = json.loads(out.splitlines()[0])
    first.pop("capture")
    url = "https://www.dg.gov.cn/" + ARTICLE_004
    assert first == extract_record(_page("interview_004_server_hans"), url)


def test_warc_without_articles_is_a_one_line_error(tmp_path: Path) -> None:
    path = _write_warc(
        tmp_path / "lists.warc.gz",
        [lambda w: _response(w, "houjie/cjjs/tshj/", b"<html><body>list</body></html>")],
    )
    rc, out, err = _run(path)
    assert (rc, out) == (1, "")
    assert _one_line_error(err) and "no article" in err


def test_empty_warc_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.warc.gz"
    path.write_bytes(b"")
    rc, out, err = _run(path)
    assert (rc, out) == (1, "") and _one_line_error(err) and "empty" in err


@pytest.mark.parametrize("junk", [b"not a warc at all\n" * 10, b"\x1f\x8b\x08\x00garbage"])
def test_unreadable_warc_is_a_one_line_error(tmp_path: Path, junk: bytes) -> None:
    path = tmp_path / "broken.warc.gz"
    path.write_bytes(junk)
    rc, out, err = _run(path)
    assert (rc, out) == (1, "") and _one_line_error(err)


def test_article_with_empty_body_in_a_warc(tmp_path: Path) -> None:
    path = _write_warc(
        tmp_path / "mixed.warc.gz",
        [
            lambda w: _response(w, "houjie/cjjs/tshj/content/post_3987000.html", b""),
            lambda w: _response(w, ARTICLE_004, _page("interview_004_server_hans")),
        ],
    )
    rc, out, err = _run(path)
    assert rc == 1  # something could not be extracted: say so in the exit code
    assert len(out.splitlines()) == 1  # the readable article is still printed
    assert _one_line_error(err) and "post_3987000.html" in err and "empty" in err


def test_url_option_with_a_warc_is_a_usage_error(tmp_path: Path) -> None:
    rc, out, err = _run(_article_warc(tmp_path), "https://www.dg.gov.cn/x.html")
    assert (rc, out) == (2, "") and _one_line_error(err)


# --- read ahead: the file read (and every CHILD_SHARE-th article extracted) in a child ------
def _many_articles_warc(tmp_path: Path) -> tuple[Path, list[str | None]]:
    """2 * CHILD_SHARE + 3 articles, unreadable ones at both processes' turns, damage last."""
    from crawler.extracting import CHILD_SHARE

    cases = ["interview_004_server_hans", "news_server_hans", "news_gbk_meta_charset"]
    pages: list[str | None] = [cases[i % 3] for i in range(2 * CHILD_SHARE + 3)]
    pages[1] = pages[CHILD_SHARE - 1] = None  # empty bodies: read here, and in the child
    makers = []
    for i, case in enumerate(pages):
        body = b"" if case is None else _page(case)
        charset = "GBK" if case == "news_gbk_meta_charset" else "utf-8"
        path = f"houjie/cjjs/tshj/content/post_{4000000 + i}.html"
        makers.append(
            lambda w, path=path, body=body, charset=charset: _response(
                w, path, body, content_type=f"text/html; charset={charset}", gzipped=True
            )
        )
    path = _write_warc(tmp_path / "many.warc.gz", makers)
    with path.open("ab") as fh:
        fh.write(b"\x1f\x8b\x08\x00garbage")  # a damaged member after the last article
    return path, pages


def test_articles_read_ahead_come_out_in_file_order_as_extracted_here(tmp_path: Path) -> None:
    from crawler.extracting import CHILD_SHARE

    path, pages = _many_articles_warc(tmp_path)
    rc, out, err = _run(path)
    assert rc == 1
    lines = out.splitlines()
    readable = [(i, case) for i, case in enumerate(pages) if case is not None]
    assert len(lines) == len(readable)
    for line, (i, case) in zip(lines, readable, strict=True):
        record = json.loads(line)
        capture = record.pop("capture")
        url = f"https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_{4000000 + i}.html"
        charset = http_charset(
            "text/html; charset=GBK"
            if case == "news_gbk_meta_charset"
            else "text/html; charset=utf-8"
        )
        assert record == extract_record(_page(case), url, encoding=charset)
        assert capture["target_uri"] == f"{MIRROR}houjie/cjjs/tshj/content/post_{4000000 + i}.html"
    errors = err.splitlines()
    assert len(errors) == 3 and all(e.startswith("dgarchive extract: ") for e in errors)
    assert "post_4000001.html" in errors[0] and "empty" in errors[0]
    assert f"post_{4000000 + CHILD_SHARE - 1}.html" in errors[1] and "empty" in errors[1]
    assert "damaged at byte" in errors[2]


def test_read_ahead_or_not_the_output_is_the_same(tmp_path: Path) -> None:
    import threading

    path, _ = _many_articles_warc(tmp_path)
    forked = _run(path)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)  # another thread: everything runs here
    thread.start()
    try:
        here = _run(path)
    finally:
        stop.set()
        thread.join()
    assert forked == here
