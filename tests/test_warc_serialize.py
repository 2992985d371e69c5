"""The writer's own serialization of request and response records is warcio's, byte for byte."""

from __future__ import annotations

import gzip
import io
import itertools
from datetime import UTC, datetime

import pytest
from warcio.warcwriter import WARCWriter

from pipelines.warc.builders import WarcRecordBuilder
from pipelines.warc.writer import RollingWarcWriter, _exchange_bytes

WHEN = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
BIG_GZIP = gzip.compress(b"<html>" + bytes(range(256)) * 40 + b"</html>", mtime=0)


def _builder() -> WarcRecordBuilder:
    ids = itertools.count()
    return WarcRecordBuilder(clock=lambda: WHEN, id_factory=lambda: f"<urn:uuid:{next(ids)}>")


def _make(kind: str, b: WarcRecordBuilder):
    if kind == "request":
        return b.request("http://h.test/a?b=1", headers=[("Accept", "*/*")], ip_address="1.2.3.4")
    if kind == "post":
        return b.request("http://h.test/form", method="POST", body=b"x=1&y=\xe4")
    if kind == "response-html":
        return b.response(
            "http://h.test/a",
            status=200,
            reason=b"Fine \xe9",
            headers=[(b"Content-Type", b"text/html"), (b"X-N", b"\xe4\xb8\xad"), (b"X-N", b"2")],
            body="<html>中文</html>".encode(),
        )
    if kind == "response-gzip":
        return b.response(
            "http://h.test/g",
            status=200,
            headers=[(b"Content-Encoding", b"gzip"), (b"Content-Length", b"%d" % len(BIG_GZIP))],
            body=BIG_GZIP,
            truncated="length",
        )
    if kind == "response-empty":
        return b.response("http://h.test/e", status=404, reason="", headers=[], body=b"")
    raise AssertionError(kind)


KINDS = ["request", "post", "response-html", "response-gzip", "response-empty"]


@pytest.mark.parametrize("kind", KINDS)
def test_exchange_records_are_serialized_as_warcio_writes_them(kind):
    ours = _make(kind, _builder())
    theirs = _make(kind, _builder())
    fast = _exchange_bytes(ours)
    assert fast is not None
    buf = io.BytesIO()
    WARCWriter(buf, gzip=False).write_record(theirs)
    assert fast == buf.getvalue()
    assert ours.rec_headers.headers == theirs.rec_headers.headers
    # A second serialization (a rollover writes the records again) gives the same bytes.
    assert _exchange_bytes(ours) == fast


def test_other_records_are_left_to_warcio():
    b = _builder()
    assert _exchange_bytes(b.warcinfo("f.warc.gz", {"software": "x"})) is None
    assert _exchange_bytes(b.resource("urn:x", b"{}", "application/json")) is None
    assert _exchange_bytes(b.metadata("http://h.test/", [("a", "b")])) is None


def test_files_written_are_the_same_with_and_without_the_fast_path(tmp_path, monkeypatch):
    def write(directory):
        ids = itertools.count()
        w = RollingWarcWriter(
            directory, clock=lambda: WHEN, hostname="h", software="s", max_size=1500,
            id_factory=lambda: f"<urn:uuid:{next(ids)}>",
        )  # fmt: skip
        with w:
            for kind in KINDS:
                req = _make("request", w.builder)
                w.write_exchange(req, _make(kind, w.builder))
        return [open(p, "rb").read() for p in w.files]

    fast = write(tmp_path / "fast")
    monkeypatch.setattr("pipelines.warc.writer._exchange_bytes", lambda record: None)
    slow = write(tmp_path / "slow")
    assert len(fast) > 1  # the size limit made it roll over
    assert fast == slow
