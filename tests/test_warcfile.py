"""WARC records, files and reading back: builders, RollingWarcWriter, repair, iter_captures."""

from __future__ import annotations

import gzip
import io
import itertools
import os
import shutil
import subprocess
import sys
import urllib.request
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.config import canonical_urls
from pipelines.records import CAPTURE_FIELDS
from pipelines.warc import heads, members, writer
from pipelines.warc.builders import (
    PROFILE_IDENTICAL_PAYLOAD_DIGEST,
    PROFILE_SERVER_NOT_MODIFIED,
    RevisitOf,
    WarcRecordBuilder,
    sha1_digest,
)
from pipelines.warc.reader import WarcReadError, iter_captures
from pipelines.warc.repair import complete_prefix_length, repair_open_files
from pipelines.warc.writer import RollingWarcWriter, WarcWriteError

GOLDEN = Path(__file__).parent / "fixtures" / "warc" / "golden.warc"
WARCIO = str(Path(sys.executable).parent / "warcio")
REPO = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 22, 0, 15, 0, 123456, tzinfo=UTC)
NO_TIME = timedelta(0)
URL = "http://127.0.0.1:8123/houjie/cjjs/tshj/content/post_3987862.html?from=list&p=2"
HTML = "<html><head><title>图说厚街</title></head><body>寮厦</body></html>".encode()
GZ_BODY = gzip.compress(HTML, mtime=0)
RESPONSE_HEADERS = [
    ("Server", "nginx"),
    ("Content-Type", "text/html; charset=utf-8"),
    ("Set-Cookie", "JSESSIONID=abc; Path=/"),
    ("ETag", '"5f3-1"'),
    ("Set-Cookie", "route=7; Path=/"),
    ("Transfer-Encoding", "chunked"),
    ("Content-Encoding", "gzip"),
]


class FakeClock:
    def __init__(self, start: datetime = START, step: timedelta = timedelta(seconds=1)):
        self.now, self.step = start, step

    def __call__(self) -> datetime:
        now = self.now
        self.now += self.step
        return now


def counting_ids():
    counter = itertools.count(1)
    return lambda: f"<urn:uuid:00000000-0000-4000-8000-{next(counter):012d}>"


def make_writer(directory, **kw) -> RollingWarcWriter:
    kw.setdefault("clock", FakeClock())
    kw.setdefault("id_factory", counting_ids())
    kw.setdefault("hostname", "testhost")
    kw.setdefault(
        "warcinfo_fields",
        {
            "isPartOf": "crawl-1",
            "robots": "obey",
            "http-header-user-agent": "dgarchive-test",
            "dgarchive-site-root": "http://127.0.0.1:8123/",
        },
    )
    return RollingWarcWriter(directory, **kw)


def write_article(writer: RollingWarcWriter, url: str = URL, body: bytes = GZ_BODY) -> dict:
    b = writer.builder
    resp = b.response(
        url,
        status=200,
        reason="Fine Thanks",
        headers=RESPONSE_HEADERS,
        body=body,
        ip_address="127.0.0.1",
    )
    req = b.request(
        url,
        headers=[("User-Agent", "dgarchive-test"), ("Accept-Encoding", "gzip")],
        ip_address="127.0.0.1",
    )
    return writer.write_exchange(req, resp)


def read_records(path) -> list:
    """Every record, fully read, with its digest verdict (what `warcio check` does)."""
    out = []
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh, check_digests=True)
        for rec in it:
            raw = rec.raw_stream.read()
            out.append(
                {
                    "type": rec.rec_type,
                    "h": rec.rec_headers,
                    "http": rec.http_headers,
                    "raw": raw,
                    "passed": rec.digest_checker.passed,
                    "offset": it.get_record_offset(),
                    "length": it.get_record_length(),
                }
            )
    return out


def assert_valid(path) -> list:
    records = read_records(path)
    assert records and records[0]["type"] == "warcinfo"
    for r in records:
        if r["type"] == "revisit":
            assert r["passed"] is None  # warcio does not check revisit digests
        else:
            assert r["passed"] is True, (r["type"], r["h"])
    return records


def golden_records(writer: RollingWarcWriter) -> None:
    """The exchanges the golden file holds: one of each record the builders make."""
    loc = write_article(writer)
    b = writer.builder
    ref = RevisitOf(URL, loc["fetched_at"], loc["warc_record_id"], loc["payload_digest"])
    rv, meta = b.not_modified_records(
        URL, refers_to=ref, headers=[("ETag", '"5f3-1"'), ("Date", "Sun, 22 Nov 2026 00:20:00 GMT")]
    )
    req = b.request(URL, headers=[("If-None-Match", '"5f3-1"')])
    writer.write_revisit(req, rv, meta)
    rv2 = b.revisit(
        URL,
        profile="identical-payload-digest",
        refers_to=ref,
        status=200,
        reason="OK",
        headers=RESPONSE_HEADERS,
    )
    writer.write_revisit(b.request(URL), rv2)
    b404 = b"<h1>Not Found</h1>"
    resp = b.response(
        "http://127.0.0.1:8123/nope.html",
        status=404,
        headers=[("Content-Length", str(len(b404)))],
        body=b404,
    )
    writer.write_exchange(b.request("http://127.0.0.1:8123/nope.html"), resp)


# -- golden ----------------------------------------------------------------------------


def test_builders_match_the_golden_file_byte_for_byte(tmp_path, request):
    got = write_golden(tmp_path)
    if request.config.getoption("--update-golden", default=False):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_bytes(got)
    assert GOLDEN.exists(), "create it with --update-golden or python -m tests.test_warcfile"
    assert got == GOLDEN.read_bytes(), (
        "builder output changed: review it, then regenerate with --update-golden "
        "(or python -m tests.test_warcfile) and commit the diff"
    )


def test_golden_file_itself_is_valid_and_readable():
    records = assert_valid(GOLDEN)
    assert [r["type"] for r in records] == [
        "warcinfo",
        *("response", "request"),
        *("revisit", "request", "metadata"),
        *("revisit", "request"),
        *("response", "request"),
    ]


# -- record contents -------------------------------------------------------------------


def test_response_record_keeps_the_status_line_every_header_in_order_and_the_wire_payload(
    tmp_path,
):
    w = make_writer(tmp_path)
    write_article(w)
    records = assert_valid(w.close())
    resp = records[1]
    http = resp["http"]
    assert http.protocol == "HTTP/1.1"
    assert http.statusline == "200 Fine Thanks"
    # Repeated Set-Cookie are two lines, in received order; only Transfer-Encoding is gone.
    assert http.headers == [h for h in RESPONSE_HEADERS if h[0] != "Transfer-Encoding"]
    assert [v for k, v in http.headers if k == "Set-Cookie"] == [
        "JSESSIONID=abc; Path=/",
        "route=7; Path=/",
    ]
    assert resp["raw"] == GZ_BODY  # still gzip, as sent
    assert resp["h"].get_header("WARC-Payload-Digest") == sha1_digest(GZ_BODY)
    assert resp["h"].get_header("WARC-IP-Address") == "127.0.0.1"


def test_block_holds_the_head_bytes_exactly_and_warcio_adds_no_header(tmp_path):
    w = make_writer(tmp_path, gzip=False)
    write_article(w, body=b"abc")
    data = Path(w.close()).read_bytes()
    expected_head = (
        b"HTTP/1.1 200 Fine Thanks\r\n"
        b"Server: nginx\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"Set-Cookie: JSESSIONID=abc; Path=/\r\n"
        b'ETag: "5f3-1"\r\n'
        b"Set-Cookie: route=7; Path=/\r\n"
        b"Content-Encoding: gzip\r\n"
        b"\r\n"
        b"abc\r\n\r\n"
    )
    assert expected_head in data
    assert b"Content-Length: %d\r\n" % (len(expected_head) - 4) in data  # the WARC block's


def test_non_ascii_header_bytes_are_kept_not_percent_encoded(tmp_path):
    w = make_writer(tmp_path, gzip=False)
    b = w.builder
    disposition = 'attachment; filename="图.jpg"'.encode()
    resp = b.response(URL, status=200, headers=[(b"Content-Disposition", disposition)], body=b"x")
    w.write_exchange(b.request(URL), resp)
    data = Path(w.close()).read_bytes()
    assert b"Content-Disposition: " + disposition + b"\r\n" in data
    assert_valid(w.files[0])


def test_request_record_has_the_request_line_with_query_and_a_host(tmp_path):
    w = make_writer(tmp_path)
    write_article(w)
    req = assert_valid(w.close())[2]
    assert req["type"] == "request"
    assert req["http"].protocol == "GET"
    assert req["http"].statusline == (
        "/houjie/cjjs/tshj/content/post_3987862.html?from=list&p=2 HTTP/1.1"
    )
    assert req["http"].get_header("Host") == "127.0.0.1:8123"
    assert req["http"].get_header("Accept-Encoding") == "gzip"


def test_host_header_omits_default_port():
    head = heads.http_request_head("https://www.dg.gov.cn/a.html", "GET", [])
    assert head.raw == b"GET /a.html HTTP/1.1\r\nHost: www.dg.gov.cn\r\n\r\n"


def test_reason_falls_back_to_the_standard_phrase_and_may_be_empty():
    assert heads.http_response_head(404, None, []).raw.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert heads.http_response_head(200, "", []).raw.startswith(b"HTTP/1.1 200\r\n")
    assert heads.http_response_head(599, None, []).raw.startswith(b"HTTP/1.1 599\r\n")


def test_request_and_response_are_linked_and_name_their_warcinfo(tmp_path):
    w = make_writer(tmp_path)
    loc = write_article(w)
    records = assert_valid(w.close())
    info, resp, req = records
    assert req["h"].get_header("WARC-Concurrent-To") == resp["h"].get_header("WARC-Record-ID")
    assert resp["h"].get_header("WARC-Record-ID") == loc["warc_record_id"]
    assert req["h"].get_header("WARC-Date") == resp["h"].get_header("WARC-Date")
    info_id = info["h"].get_header("WARC-Record-ID")
    assert resp["h"].get_header("WARC-Warcinfo-ID") == info_id
    assert req["h"].get_header("WARC-Warcinfo-ID") == info_id


def test_revisit_records_carry_what_replay_tools_resolve_them_by(tmp_path):
    w = make_writer(tmp_path)
    loc = write_article(w)
    ref = RevisitOf(URL, loc["fetched_at"], loc["warc_record_id"], loc["payload_digest"])
    b = w.builder
    rv, meta = b.not_modified_records(URL, refers_to=ref, reason="Not Modified", headers=[])
    loc304 = w.write_revisit(b.request(URL), rv, meta)
    rv2 = b.revisit(URL, profile="identical-payload-digest", refers_to=ref, status=200, headers=[])
    loc200 = w.write_revisit(b.request(URL), rv2)
    records = assert_valid(w.close())
    by_id = {r["h"].get_header("WARC-Record-ID"): r for r in records}
    for location, profile in (
        (loc304, PROFILE_SERVER_NOT_MODIFIED),
        (loc200, PROFILE_IDENTICAL_PAYLOAD_DIGEST),
    ):
        h = by_id[location["warc_record_id"]]["h"]
        assert h.get_header("WARC-Type") == "revisit"
        assert h.get_header("WARC-Profile") == profile
        assert h.get_header("WARC-Refers-To-Target-URI") == URL
        assert h.get_header("WARC-Refers-To-Date") == loc["fetched_at"]
        assert h.get_header("WARC-Refers-To") == loc["warc_record_id"]
        assert h.get_header("WARC-Payload-Digest") == loc["payload_digest"]
        assert location["payload_digest"] == loc["payload_digest"]
    assert loc304["status"] == 304 and loc200["status"] == 200


def test_a_304_keeps_its_head_in_a_metadata_record_beside_an_empty_revisit(tmp_path):
    w = make_writer(tmp_path)
    loc = write_article(w)
    ref = RevisitOf(URL, loc["fetched_at"], loc["warc_record_id"], loc["payload_digest"])
    b = w.builder
    rv, meta = b.not_modified_records(
        URL, refers_to=ref, reason="Not Modified", headers=[("ETag", '"5f3-1"')]
    )
    w.write_revisit(b.request(URL), rv, meta)
    records = assert_valid(w.close())
    revisit = next(r for r in records if r["type"] == "revisit")
    metadata = next(r for r in records if r["type"] == "metadata")
    assert revisit["raw"] == b"" and revisit["http"] is None
    assert revisit["h"].get_header("Content-Length") == "0"
    assert metadata["h"].get_header("WARC-Refers-To") == revisit["h"].get_header("WARC-Record-ID")
    assert metadata["h"].get_header("Content-Type") == "application/warc-fields"
    assert metadata["raw"] == (
        b'http-status-line: HTTP/1.1 304 Not Modified\r\nhttp-header: ETag: "5f3-1"\r\n'
    )


def test_warcinfo_names_software_format_crawl_robots_and_user_agent(tmp_path):
    w = make_writer(tmp_path)
    write_article(w)
    info = assert_valid(w.close())[0]
    fields = dict(line.split(": ", 1) for line in info["raw"].decode().splitlines() if line.strip())
    assert fields["software"].startswith("dgarchive/")
    assert "warcio/" in fields["software"]
    assert fields["format"] == "WARC File Format 1.1"
    assert fields["hostname"] == "testhost"
    assert fields["isPartOf"] == "crawl-1"
    assert fields["robots"] == "obey"
    assert fields["http-header-user-agent"] == "dgarchive-test"
    assert fields["dgarchive-site-root"] == "http://127.0.0.1:8123/"
    assert info["h"].get_header("WARC-Filename") == os.path.basename(w.files[0])


# -- files -----------------------------------------------------------------------------


def test_file_is_open_while_written_and_renamed_on_close(tmp_path):
    w = make_writer(tmp_path)
    loc = write_article(w)
    final = w.current_path
    assert final is not None
    assert os.listdir(tmp_path) == [os.path.basename(final) + ".open"]
    assert loc["warc_filename"] == os.path.basename(final)  # the final name, known in advance
    assert w.close() == final
    assert os.listdir(tmp_path) == [os.path.basename(final)]
    assert w.close() is None  # closing twice is harmless


def test_file_name_has_prefix_utc_time_to_the_ms_serial_and_host(tmp_path):
    w = make_writer(
        tmp_path, prefix="DGARCHIVE", hostname="crawler-01.example", clock=FakeClock(step=NO_TIME)
    )
    write_article(w)
    assert os.path.basename(w.close()) == (
        "DGARCHIVE-20261122001500123-00000-crawler_01.example.warc.gz"
    )


def test_a_taken_name_moves_to_the_next_serial(tmp_path):
    taken = tmp_path / "DGARCHIVE-20261122001500123-00000-testhost.warc.gz"
    taken.write_bytes(b"not ours")
    (tmp_path / "DGARCHIVE-20261122001500123-00001-testhost.warc.gz.open").write_bytes(b"busy")
    w = make_writer(tmp_path, clock=FakeClock(step=NO_TIME))
    write_article(w)
    path = w.close()
    assert os.path.basename(path) == "DGARCHIVE-20261122001500123-00002-testhost.warc.gz"
    assert taken.read_bytes() == b"not ours"


def test_rollover_keeps_records_whole_and_starts_every_file_with_warcinfo(tmp_path):
    w = make_writer(tmp_path, max_size=3000, clock=FakeClock(step=timedelta(milliseconds=1)))
    locations = [write_article(w, url=f"{URL}&n={i}") for i in range(12)]
    w.close()
    assert len(w.files) >= 3
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(f) for f in w.files)
    exchanges = 0
    for path in w.files:
        records = assert_valid(path)
        assert [r["type"] for r in records].count("warcinfo") == 1
        # An exchange stays in one file: each response is followed by its request.
        for resp, req in zip(records[1::2], records[2::2], strict=True):
            assert resp["type"] == "response" and req["type"] == "request"
            assert req["h"].get_header("WARC-Concurrent-To") == resp["h"].get_header(
                "WARC-Record-ID"
            )
            exchanges += 1
        if len(records) > 3:  # more than one exchange: the file kept under the limit
            assert os.path.getsize(path) <= 3000
    assert exchanges == 12
    assert {loc["warc_filename"] for loc in locations} == {os.path.basename(f) for f in w.files}


def test_one_exchange_larger_than_max_size_gets_a_file_of_its_own(tmp_path):
    w = make_writer(tmp_path, max_size=500, clock=FakeClock(step=timedelta(milliseconds=1)))
    big = os.urandom(4000)
    locs = [write_article(w, body=big), write_article(w, body=big)]
    w.close()
    assert len(w.files) == 2
    assert locs[0]["warc_filename"] != locs[1]["warc_filename"]
    for path in w.files:
        assert [r["type"] for r in assert_valid(path)] == ["warcinfo", "response", "request"]


def test_location_points_at_the_response_record(tmp_path):
    w = make_writer(tmp_path)
    locs = [write_article(w, url=f"{URL}&n={i}") for i in range(3)]
    w.close()
    data = Path(w.files[0]).read_bytes()
    for loc in locs:
        member = data[loc["warc_offset"] : loc["warc_offset"] + loc["warc_length"]]
        rec = next(iter(ArchiveIterator(io.BytesIO(member))))
        assert rec.rec_type == "response"
        assert rec.rec_headers.get_header("WARC-Record-ID") == loc["warc_record_id"]
        assert rec.raw_stream.read() == GZ_BODY
    assert tuple(locs[0]) == CAPTURE_FIELDS
    assert locs[0]["fetched_at"] == "2026-11-22T00:15:00Z"
    assert locs[0]["target_uri"] == f"{URL}&n=0"
    assert locs[0]["status"] == 200
    assert locs[0]["payload_digest"] == sha1_digest(GZ_BODY)


def test_counters_add_up_to_the_files(tmp_path):
    w = make_writer(tmp_path, max_size=3000)
    for i in range(5):
        write_article(w, url=f"{URL}&n={i}")
    w.close()
    assert w.bytes_written == sum(os.path.getsize(f) for f in w.files)
    assert w.records_written == sum(len(read_records(f)) for f in w.files)


def test_warcio_check_cli_passes_on_a_written_file(tmp_path):
    w = make_writer(tmp_path)
    golden_records(w)
    path = w.close()
    proc = subprocess.run([WARCIO, "check", "-v", path], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("digest pass") == 8  # all but the two revisits


def test_warcio_check_cli_fails_on_a_corrupted_payload(tmp_path):
    # The check above is only worth something if it can fail.
    w = make_writer(tmp_path, gzip=False)
    write_article(w, body=b"original payload")
    path = w.close()
    data = Path(path).read_bytes().replace(b"original payload", b"tampered payload")
    Path(path).write_bytes(data)
    proc = subprocess.run([WARCIO, "check", path], capture_output=True, text=True)
    assert proc.returncode == 1


@pytest.mark.parametrize("size", [0, 1023, 1024, 0xFFFF, 0xFFFF + 1, 200_000])
def test_gzip_member_with_a_stored_payload_is_plain_gzip(size):
    head = b"WARC/1.1\r\nWARC-Type: response\r\n" * 10
    data = head + os.urandom(size) + b"\r\n\r\n"
    member = members.gzip_member(data, 6, stored_from=len(head))
    assert gzip.decompress(member) == data
    d = zlib.decompressobj(zlib.MAX_WBITS | 16)
    assert d.decompress(member) == data and d.eof and d.unused_data == b""


def test_compressed_payloads_are_stored_and_text_is_deflated(tmp_path):
    jpeg = os.urandom(50_000)
    text = ("<p>厚街镇新闻</p>" * 3000).encode()
    w = make_writer(tmp_path)
    b = w.builder
    for body, ctype in ((jpeg, "image/jpeg"), (text, "text/html; charset=utf-8")):
        resp = b.response(URL, status=200, headers=[("Content-Type", ctype)], body=body)
        w.write_exchange(b.request(URL), resp)
    w.close()
    records = assert_valid(w.files[0])
    assert [r["raw"] for r in records if r["type"] == "response"] == [jpeg, text]
    lengths = [r["length"] for r in records if r["type"] == "response"]
    assert len(jpeg) < lengths[0] < len(jpeg) + 1000  # stored, heads deflated
    assert lengths[1] < len(text) // 10  # deflated


# -- failures: a killed process, a full disk --------------------------------------------


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("cut", [1, 25, 200, -3], ids=["1B", "25B", "200B", "all-but-3B"])
def test_repair_cuts_a_partial_trailing_record_and_renames(tmp_path, gz, cut):
    w = make_writer(tmp_path / "src", gzip=gz)
    write_article(w, url=f"{URL}&n=1")
    complete = Path(w.current_path + ".open").read_bytes()
    second = write_article(w, url=f"{URL}&n=2")  # a response, then its request
    full = Path(w.current_path + ".open").read_bytes()
    w.close()
    response_end = second["warc_offset"] + second["warc_length"] + (0 if gz else 4)
    assert complete_prefix_length(w.files[0]) == len(full)
    archive = tmp_path / "archive"
    archive.mkdir()
    name = os.path.basename(w.files[0])
    kept = full[: len(complete) + cut] if cut > 0 else full[:cut]
    (archive / (name + ".open")).write_bytes(kept)

    repaired = repair_open_files(archive)

    assert repaired == [str(archive / name)]
    assert os.listdir(archive) == [name]
    expected = full[:response_end] if len(kept) >= response_end else complete
    assert (archive / name).read_bytes() == expected
    types = [r["type"] for r in assert_valid(archive / name)]
    assert types == ["warcinfo", "response", "request"] + (
        ["response"] if len(kept) >= response_end else []
    )


def test_repair_keeps_a_complete_open_file_whole(tmp_path):
    w = make_writer(tmp_path)
    write_article(w)
    data = Path(w.current_path + ".open").read_bytes()
    assert complete_prefix_length(w.current_path + ".open") == len(data)
    os.close(w._fd)  # simulate a killed process: no close(), no rename
    assert repair_open_files(tmp_path) == [w.current_path]
    assert Path(w.current_path).read_bytes() == data


def test_repair_leaves_a_file_a_live_writer_holds(tmp_path):
    w = make_writer(tmp_path)
    write_article(w)
    before = Path(w.current_path + ".open").read_bytes()
    assert repair_open_files(tmp_path) == []
    assert Path(w.current_path + ".open").read_bytes() == before
    write_article(w)  # and the writer goes on
    assert [r["type"] for r in assert_valid(w.close())].count("response") == 2


def test_repair_stops_at_a_record_whose_digest_does_not_match(tmp_path):
    w = make_writer(tmp_path, gzip=False)
    write_article(w, body=b"first body")
    first = Path(w.current_path + ".open").read_bytes()
    write_article(w, body=b"second body")
    path = w.current_path
    w.close()
    Path(path + ".open").write_bytes(
        Path(path).read_bytes().replace(b"second body", b"SECOND BODY")
    )
    os.unlink(path)
    repair_open_files(tmp_path)
    assert Path(path).read_bytes() == first


def test_repair_removes_an_open_file_without_one_complete_record(tmp_path):
    (tmp_path / "DGARCHIVE-x.warc.gz.open").write_bytes(gzip.compress(b"WARC/1.1\r\n")[:10])
    assert repair_open_files(tmp_path) == []
    assert os.listdir(tmp_path) == []


def test_repair_never_overwrites_a_finished_file(tmp_path):
    w = make_writer(tmp_path)
    write_article(w)
    path = w.close()
    shutil.copy(path, path + ".open")
    (repaired,) = repair_open_files(tmp_path)
    assert repaired != path and os.path.exists(path) and os.path.exists(repaired)
    assert repaired.endswith(".warc.gz")


def test_a_full_disk_cuts_the_file_back_and_raises_a_clear_error(tmp_path, monkeypatch):
    w = make_writer(tmp_path)
    write_article(w)
    good = Path(w.current_path + ".open").read_bytes()

    def disk_full(fd, data):
        os.write(fd, bytes(data[: len(data) // 2]))  # half a record reaches the disk
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "_write_all", disk_full)
    with pytest.raises(WarcWriteError, match="No space left on device") as excinfo:
        write_article(w)
    assert "last complete record" in str(excinfo.value)
    assert Path(w.current_path + ".open").read_bytes() == good
    monkeypatch.undo()
    # Space came back: the writer goes on in the same file, which stays valid.
    write_article(w)
    path = w.close()
    assert [r["type"] for r in assert_valid(path)] == ["warcinfo"] + ["response", "request"] * 2
    assert w.bytes_written == os.path.getsize(path)


def test_a_full_disk_on_a_new_file_leaves_nothing_behind(tmp_path, monkeypatch):
    def disk_full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "_write_all", disk_full)
    w = make_writer(tmp_path)
    with pytest.raises(WarcWriteError):
        write_article(w)
    assert os.listdir(tmp_path) == []
    assert w.close() is None and w.files == []
    monkeypatch.undo()
    write_article(w)  # space came back: a new file, warcinfo first
    records = assert_valid(w.close())
    assert [r["type"] for r in records] == ["warcinfo", "response", "request"]
    info_id = records[0]["h"].get_header("WARC-Record-ID")
    assert records[1]["h"].get_header("WARC-Warcinfo-ID") == info_id


def test_one_file_handle_per_file(tmp_path, monkeypatch):
    opened = []
    real_open = os.open

    def counting_open(path, *a, **kw):
        opened.append(path)
        return real_open(path, *a, **kw)

    monkeypatch.setattr(writer.os, "open", counting_open)
    w = make_writer(tmp_path)
    for i in range(10):
        write_article(w, url=f"{URL}&n={i}")
    monkeypatch.undo()
    w.close()
    assert [p for p in opened if str(p).endswith(".open")] == [w.files[0] + ".open"]


# -- reading back ----------------------------------------------------------------------


def test_iter_captures_reads_back_what_was_written(tmp_path):
    w = make_writer(tmp_path)
    golden_records(w)
    locations = []
    w2_loc = write_article(w, url="http://127.0.0.1:8123/houjie/x.html")
    locations.append(w2_loc)
    path = w.close()
    caps = list(iter_captures(path, canonical_urls=canonical_urls))
    assert [c.warc_type for c in caps] == ["response", "revisit", "revisit", "response", "response"]
    art = caps[0]
    assert art.target_uri == URL
    assert art.canonical_url == (
        "https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_3987862.html?from=list&p=2"
    )
    assert art.status == 200
    assert art.content_type == "text/html; charset=utf-8"
    assert art.encoding == "utf-8"
    assert art.body == HTML  # decoded from gzip
    assert art.payload == GZ_BODY  # as archived
    assert [v for k, v in art.http_headers.headers if k == "Set-Cookie"] == [
        "JSESSIONID=abc; Path=/",
        "route=7; Path=/",
    ]
    assert caps[-1].capture == w2_loc  # the reader's location is the writer's
    not_modified, identical = caps[1], caps[2]
    assert not_modified.status == 304 and not_modified.body is None
    assert not_modified.http_headers.statusline == "304 Not Modified"
    assert not_modified.http_headers.get_header("ETag") == '"5f3-1"'
    assert not_modified.http_headers.get_header("Date") == "Sun, 22 Nov 2026 00:20:00 GMT"
    assert not_modified.refers_to["refers_to_record_id"] == art.capture["warc_record_id"]
    assert identical.status == 200 and identical.is_revisit
    assert caps[3].status == 404 and caps[3].encoding is None


def test_iter_captures_yields_an_empty_revisit_without_its_metadata_too(tmp_path):
    w = make_writer(tmp_path)
    loc = write_article(w)
    ref = RevisitOf(URL, loc["fetched_at"], loc["warc_record_id"], loc["payload_digest"])
    b = w.builder
    rv = b.revisit(URL, profile="server-not-modified", refers_to=ref)
    w.write_revisit(b.request(URL), rv)  # no metadata record, and last in the file
    caps = list(iter_captures(w.close()))
    assert [(c.warc_type, c.status) for c in caps] == [("response", 200), ("revisit", 304)]
    assert caps[1].http_headers is None


def test_iter_captures_keeps_a_body_that_claims_gzip_but_is_not(tmp_path):
    w = make_writer(tmp_path)
    write_article(w, body=b"<html>plain</html>")
    (cap,) = iter_captures(w.close())
    assert cap.body == b"<html>plain</html>"


def test_iter_captures_without_a_site_root_keeps_canonical_urls(tmp_path):
    w = make_writer(tmp_path, warcinfo_fields={"isPartOf": "x"})
    write_article(w, url="http://www.dg.gov.cn/houjie/a.html")
    (cap,) = iter_captures(w.close(), canonical_urls=canonical_urls)
    assert cap.canonical_url == "https://www.dg.gov.cn/houjie/a.html"


def test_iter_captures_keeps_fetch_urls_unless_given_the_site_root_mapping(tmp_path):
    # The reader may not import the configuration: the mapping is the caller's to give.
    w = make_writer(tmp_path)
    write_article(w)
    (cap,) = iter_captures(w.close())
    assert cap.canonical_url == cap.target_uri == URL


def test_a_bad_site_root_in_the_warcinfo_is_a_read_error(tmp_path):
    w = make_writer(tmp_path, warcinfo_fields={"dgarchive-site-root": "ftp://nowhere"})
    write_article(w)
    with pytest.raises(WarcReadError, match="bad dgarchive-site-root in warcinfo"):
        list(iter_captures(w.close(), canonical_urls=canonical_urls))


def test_the_warc_package_imports_neither_scrapy_nor_the_crawler():
    # pipelines/ never imports crawler/ (docs/architecture.md); only the capture extension
    # is Scrapy's side. A fresh interpreter, so no other test's imports count.
    code = (
        "import pkgutil, importlib, sys, pipelines.warc as p\n"
        "for m in pkgutil.iter_modules(p.__path__): importlib.import_module(f'{p.__name__}.{m.name}')\n"
        "print(sorted({n.split('.')[0] for n in sys.modules} & {'crawler', 'scrapy'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    assert out.strip() == "[]"
    code = (
        "import sys, pipelines.capture\nprint('crawler' in {n.split('.')[0] for n in sys.modules})"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    assert out.strip() == "False"


def test_iter_captures_raises_warc_read_error_for_unreadable_files(tmp_path):
    with pytest.raises(WarcReadError, match="cannot open"):
        list(iter_captures(tmp_path / "missing.warc.gz"))
    junk = tmp_path / "junk.warc.gz"
    junk.write_bytes(b"this is not a warc file\r\n\r\n")
    with pytest.raises(WarcReadError):
        list(iter_captures(junk))
    w = make_writer(tmp_path / "w", gzip=False)
    write_article(w, body=b"original payload")
    path = w.close()
    Path(path).write_bytes(Path(path).read_bytes().replace(b"original", b"tampered"))
    with pytest.raises(WarcReadError, match="digest"):
        list(iter_captures(path))


# -- replay in pywb --------------------------------------------------------------------


def _fetch(url: str, headers: dict | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return resp.status, resp.reason, resp.headers, resp.read()


def test_pywb_replays_the_response_and_both_revisits_as_the_original(tmp_path):
    from tests.pywb_helper import pywb_server

    clock = FakeClock(start=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), step=timedelta(0))
    w = make_writer(tmp_path / "archive", clock=clock)
    loc = write_article(w)
    ref = RevisitOf(URL, loc["fetched_at"], loc["warc_record_id"], loc["payload_digest"])
    b = w.builder
    clock.now += timedelta(days=1)
    rv, meta = b.not_modified_records(URL, refers_to=ref, headers=[("ETag", '"5f3-1"')])
    w.write_revisit(b.request(URL), rv, meta)
    clock.now += timedelta(days=1)
    new_headers = [*RESPONSE_HEADERS, ("X-Fetched", "again")]
    rv2 = b.revisit(
        URL, profile="identical-payload-digest", refers_to=ref, status=200, headers=new_headers
    )
    w.write_revisit(b.request(URL), rv2)
    w.close()

    with pywb_server(w.files, tmp_path) as base:
        # A client that accepts gzip gets the archived payload byte for byte.
        status, reason, headers, body = _fetch(
            f"{base}20260102030405id_/{URL}", {"Accept-Encoding": "gzip"}
        )
        assert (status, reason) == (200, "Fine Thanks")
        assert headers["Content-Encoding"] == "gzip"
        assert headers.get_all("Set-Cookie") == ["JSESSIONID=abc; Path=/", "route=7; Path=/"]
        assert body == GZ_BODY
        # One that does not gets it decoded by pywb (the original encoding is noted).
        status, _, headers, body = _fetch(f"{base}20260102030405id_/{URL}")
        assert body == HTML
        assert headers["X-Archive-Orig-Content-Encoding"] == "gzip"
        # The 304 of the next day replays as the original page, with its head.
        status, reason, headers, body = _fetch(
            f"{base}20260103030405id_/{URL}", {"Accept-Encoding": "gzip"}
        )
        assert (status, reason, body) == (200, "Fine Thanks", GZ_BODY)
        assert headers["Memento-Datetime"] == "Sat, 03 Jan 2026 03:04:05 GMT"
        # The unchanged 200 replays the original payload under the new head.
        status, reason, headers, body = _fetch(
            f"{base}20260104030405id_/{URL}", {"Accept-Encoding": "gzip"}
        )
        assert (status, reason, body) == (200, "OK", GZ_BODY)
        assert headers["X-Fetched"] == "again"
        assert headers["Memento-Datetime"] == "Sun, 04 Jan 2026 03:04:05 GMT"


def test_builder_alone_needs_no_writer():
    b = WarcRecordBuilder(clock=FakeClock(), id_factory=counting_ids())
    rec = b.response("http://h/x", status=200, body=b"x")
    assert rec.rec_headers.get_header("WARC-Record-ID").endswith("000000000001>")
    assert rec.rec_headers.get_header("WARC-Date") == "2026-11-22T00:15:00Z"
    assert rec.rec_headers.get_header("WARC-Payload-Digest") == sha1_digest(b"x")


def write_golden(directory) -> bytes:
    writer = make_writer(directory, gzip=False, software="dgarchive/golden (warcio/golden)")
    golden_records(writer)
    return Path(writer.close()).read_bytes()


if __name__ == "__main__":
    # Regenerate the golden file without pytest: python -m tests.test_warcfile
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_bytes(write_golden(tmp))
    print(f"wrote {GOLDEN}")
