"""The WARC reader checks each payload digest once, and parses only the records it reads
(pipelines/warc/reader.py): a wrong payload digest is still damage, request records are
still skipped, and revisits' digests (of another record's payload) are not checked."""

from __future__ import annotations

from pathlib import Path

from pipelines.warc.builders import RevisitOf, sha1_digest
from pipelines.warc.reader import read_warc
from pipelines.warc.scan import Damage
from pipelines.warc.writer import RollingWarcWriter

URL = "https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_{}.html"
HTML = "<html><body><p>第{}篇</p></body></html>"


def _write(directory: Path) -> Path:
    with RollingWarcWriter(directory, gzip=False) as writer:
        b = writer.builder
        for n in (1, 2):
            body = HTML.format(n).encode()
            req = b.request(URL.format(n), method="GET", headers=[("Host", "www.dg.gov.cn")])
            resp = b.response(
                URL.format(n),
                status=200,
                headers=[("Content-Type", "text/html; charset=utf-8")],
                body=body,
            )
            loc = writer.write_exchange(req, resp)
        ref = RevisitOf(URL.format(2), loc["fetched_at"], loc["warc_record_id"], "sha1:WRONG")
        rv = b.revisit(
            URL.format(2),
            profile="identical-payload-digest",
            refers_to=ref,
            status=200,
            headers=[("Content-Type", "text/html; charset=utf-8")],
        )
        writer.write_revisit(b.request(URL.format(2), method="GET", headers=[]), rv)
        return Path(writer.current_path)


def test_payload_digest_checked_once_requests_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path)
    got = list(read_warc(path))
    assert [type(x).__name__ for x in got] == ["ArchivedResponse"] * 3
    assert [x.warc_type for x in got] == ["response", "response", "revisit"]
    assert got[0].body == HTML.format(1).encode()

    # A payload digest that does not match (the block digest, over the whole block, is
    # left right by swapping two digests of the same length): damage, the rest read.
    data = path.read_bytes()
    good = sha1_digest(HTML.format(1).encode()).encode()
    other = sha1_digest(b"something else").encode()
    assert data.count(b"WARC-Payload-Digest: " + good) == 1
    broken = tmp_path / "broken.warc"
    broken.write_bytes(
        data.replace(b"WARC-Payload-Digest: " + good, b"WARC-Payload-Digest: " + other)
    )
    got = list(read_warc(broken))
    damage = [x for x in got if isinstance(x, Damage)]
    assert len(damage) == 1 and "digest mismatch" in damage[0].reason
    assert [x.warc_type for x in got if not isinstance(x, Damage)] == ["response", "revisit"]
    # Unchecked when asked not to.
    assert len([x for x in read_warc(broken, check_digests=False) if isinstance(x, Damage)]) == 0
