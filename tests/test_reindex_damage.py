"""`dgarchive reindex` on damaged WARC files: refuse cut records, resync, count, exit 1, clean stderr.

Every archive here is a real crawl of the mirror (tests/mocksite) by the real `dgarchive
crawl`, then damaged on purpose the ways disks, copies and killed processes damage files: cut
mid-record, garbage written over or into the middle, a gzip member cut short, a record
marked `WARC-Truncated` or whose block is shorter than its Content-Length. Each is reindexed
by the real `dgarchive reindex` in a subprocess, and the rebuilt database is compared with
the crawl's own.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from tests.e2e import REPO, _env, crawl_mirror, dgarchive, warc_files
from tests.mocksite import MockSite

pytestmark = pytest.mark.e2e

ARTICLES = 200


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    """One crawl of a 200-article mirror: its archive (one WARC file) and its export."""
    site = MockSite(articles=ARTICLES, per_page=50)
    site.start()
    try:
        tmp = tmp_path_factory.mktemp("crawl")
        db = f"sqlite:///{tmp / 'db.sqlite'}"
        run = crawl_mirror(site.url, tmp / "archive", db)
        assert run.returncode == 0, run.stderr[-3000:]
    finally:
        site.stop()
    export = dgarchive("export", "--db", db)
    assert export.returncode == 0, export.stderr
    records = [json.loads(line) for line in export.stdout.splitlines()]
    (warc,) = warc_files(tmp / "archive")
    assert len(records) >= ARTICLES - 5, len(records)  # a few are private or faulty
    by_offset = sorted(records, key=lambda r: r["capture"]["warc_offset"])
    assert {r["capture"]["warc_filename"] for r in records} == {warc.name}
    return {"warc": warc, "records": by_offset}


def reindex(archive: Path, db: Path):
    return dgarchive("reindex", "--archive", str(archive), "--db", f"sqlite:///{db}")


def stored_urls(db: Path) -> set[str]:
    run = dgarchive("export", "--db", f"sqlite:///{db}")
    assert run.returncode == 0, run.stderr
    return {json.loads(line)["url"] for line in run.stdout.splitlines()}


def damage_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "damaged at byte" in line]


def copy_archive(crawl, tmp_path: Path, data: bytes | None = None, name: str | None = None):
    """A fresh archive directory holding the crawl's file (or `data` under its name)."""
    archive = tmp_path / "archive"
    archive.mkdir()
    target = archive / (name or crawl["warc"].name)
    if data is None:
        shutil.copy(crawl["warc"], target)
    else:
        target.write_bytes(data)
    return archive, target


def member(data: bytes, rec: dict) -> bytes:
    cap = rec["capture"]
    return data[cap["warc_offset"] : cap["warc_offset"] + cap["warc_length"]]


def test_an_undamaged_crawl_reindexes_whole_with_exit_0(crawl, tmp_path):
    archive, _ = copy_archive(crawl, tmp_path)
    run = reindex(archive, tmp_path / "db.sqlite")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert f"reindexed 1 WARC file(s): {len(crawl['records'])} new" in run.stdout
    assert stored_urls(tmp_path / "db.sqlite") == {r["url"] for r in crawl["records"]}


# -- helpers that damage a crawl's file ----------------------------------------------------


def members(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each gzip member of a .warc.gz, read with zlib, not our scanner."""
    out, pos = [], 0
    while pos < len(data):
        d = zlib.decompressobj(zlib.MAX_WBITS | 16)
        d.decompress(data[pos:])
        assert d.eof
        end = len(data) - len(d.unused_data)
        out.append((pos, end - pos))
        pos = end
    return out


def plain_offsets(data: bytes) -> dict[int, int]:
    """For each gzip member's offset, the offset of its record in the decompressed `.warc`."""
    offsets, plain = {}, 0
    for offset, length in members(data):
        offsets[offset] = plain
        plain += len(gzip.decompress(data[offset : offset + length]))
    return offsets


def rewrite(data: bytes, rec: dict, change) -> bytes:
    """The member of `rec` decompressed, changed by `change(record_bytes)`, recompressed."""
    return gzip.compress(change(gzip.decompress(member(data, rec))))


def garbage(n: int, seed: int) -> bytes:
    """Random bytes with the things a resync can trip on, and a terminal's escape codes."""
    rng = random.Random(seed)
    noise = bytes(rng.randrange(256) for _ in range(n))
    traps = (
        b"\x1f\x8b\x08\x00junk"
        + b"\r\nWARC/1.1\r\nWARC-Type: response\r\n"
        + b"\x1b[2J\x00\xff\xfe"
    )
    return noise[: n // 2] + traps + noise[n // 2 :]


def assert_clean_stderr(raw: bytes) -> None:
    text = raw.decode("utf-8")  # raises on invalid UTF-8
    bad = [c for c in text if not (c == "\n" or c.isprintable())]
    assert not bad, bad[:10]


def run_bytes(*args: str) -> subprocess.CompletedProcess:
    """`dgarchive ARGS` with stdout and stderr kept as bytes, to check them byte by byte."""
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        timeout=300,
    )


# -- the cases ---------------------------------------------------------------------------


def test_a_gzip_file_cut_mid_record_stores_nothing_of_the_cut_record(crawl, tmp_path):
    data = crawl["warc"].read_bytes()
    recs = crawl["records"]
    cut_rec = recs[len(recs) // 2]
    cap = cut_rec["capture"]
    cut_at = cap["warc_offset"] + cap["warc_length"] // 2
    archive, warc = copy_archive(crawl, tmp_path, data[:cut_at])

    run = reindex(archive, tmp_path / "db.sqlite")

    assert run.returncode == 1, run.stderr
    (line,) = damage_lines(run.stderr)
    assert warc.name in line and f"byte {cap['warc_offset']} " in line and "cut short" in line
    kept = {r["url"] for r in recs if r["capture"]["warc_offset"] < cap["warc_offset"]}
    assert stored_urls(tmp_path / "db.sqlite") == kept
    assert cut_rec["url"] not in kept
    assert "reindexed 1 WARC file(s)" in run.stdout and "1 damaged spot(s)" in run.stdout


def test_garbage_mid_file_is_skipped_and_every_article_after_it_recovered(crawl, tmp_path):
    data = crawl["warc"].read_bytes()
    recs = crawl["records"]
    between = recs[len(recs) // 3]["capture"]["warc_offset"]  # a member boundary
    hit = recs[2 * len(recs) // 3]  # garbage written over the middle of this one's member
    hit_at = hit["capture"]["warc_offset"] + hit["capture"]["warc_length"] // 2
    damaged = bytearray(data)
    damaged[hit_at : hit_at + 300] = garbage(300, seed=2)[:300]
    junk = garbage(20_000, seed=1)
    damaged[between:between] = junk  # inserted: everything after moves by len(junk)
    archive, warc = copy_archive(crawl, tmp_path, bytes(damaged))

    proc = run_bytes("reindex", "--archive", str(archive), "--db", f"sqlite:///{tmp_path / 'db'}")

    assert proc.returncode == 1, proc.stderr[-2000:]
    assert_clean_stderr(proc.stderr)
    stderr = proc.stderr.decode()
    lines = damage_lines(stderr)
    assert len(lines) == 2, stderr
    assert f"byte {between} " in lines[0] and f"({len(junk)} bytes)" in lines[0]
    assert f"byte {hit['capture']['warc_offset'] + len(junk)} " in lines[1]
    assert all(warc.name in line for line in lines)
    assert stored_urls(tmp_path / "db") == {r["url"] for r in recs} - {hit["url"]}
    assert len(stored_urls(tmp_path / "db")) == len(recs) - 1
    assert b"reindexed 1 WARC file(s)" in proc.stdout
    assert b"2 damaged spot(s) in 1 file(s)" in proc.stdout


def test_a_plain_warc_resyncs_at_the_next_warc_line(crawl, tmp_path):
    """The same crawl as an uncompressed `.warc`: garbage inside a record, the file cut."""
    data = crawl["warc"].read_bytes()
    recs = crawl["records"]
    plain = plain_offsets(data)
    text = bytearray(gzip.decompress(data))
    hit, last = recs[len(recs) // 2], recs[-1]
    hit_at = plain[hit["capture"]["warc_offset"]] + 700  # inside its block
    last_at = plain[last["capture"]["warc_offset"]]
    cut = last_at + 900
    junk = garbage(5000, seed=3)
    text = text[:cut]
    text[hit_at:hit_at] = junk
    name = crawl["warc"].name[: -len(".gz")]
    archive, _ = copy_archive(crawl, tmp_path, bytes(text), name=name)

    proc = run_bytes("reindex", "--archive", str(archive), "--db", f"sqlite:///{tmp_path / 'db'}")

    assert proc.returncode == 1, proc.stderr[-2000:]
    assert_clean_stderr(proc.stderr)
    lines = damage_lines(proc.stderr.decode())
    assert len(lines) == 2, proc.stderr.decode()
    assert f"byte {plain[hit['capture']['warc_offset']]} " in lines[0]
    assert f"byte {last_at + len(junk)} " in lines[1] and "cut short" in lines[1]
    assert stored_urls(tmp_path / "db") == {r["url"] for r in recs} - {hit["url"], last["url"]}


def test_truncated_records_are_refused_each_reported_with_its_offset(crawl, tmp_path):
    data = crawl["warc"].read_bytes()
    recs = crawl["records"]
    marked, short, cut, http_cut = (recs[i] for i in (10, 60, 110, 160))

    def mark(record: bytes) -> bytes:  # a crawler that knew the body was cut says so
        first, _, rest = record.partition(b"\r\n")
        return first + b"\r\nWARC-Truncated: disconnect\r\n" + rest

    def shorten(record: bytes) -> bytes:  # the block ends 500 bytes before its Content-Length
        return record[: -4 - 500] + b"\r\n\r\n"

    def cut_body(record: bytes) -> bytes:  # a cut HTTP body archived with fixed WARC fields
        import base64
        import hashlib

        head, _, block = record[:-4].partition(b"\r\n\r\n")
        block = block[:-800]
        http_head, _, payload = block.partition(b"\r\n\r\n")
        lines = []
        for line in head.split(b"\r\n"):
            name = line.partition(b":")[0].lower()
            if name == b"content-length":
                line = b"Content-Length: %d" % len(block)
            elif name in (b"warc-block-digest", b"warc-payload-digest"):
                part = block if name == b"warc-block-digest" else payload
                digest = base64.b32encode(hashlib.sha1(part).digest())
                line = line.partition(b":")[0] + b": sha1:" + digest
            lines.append(line)
        return b"\r\n".join(lines) + b"\r\n\r\n" + block + b"\r\n\r\n"

    changes = {
        marked["capture"]["warc_offset"]: (
            "WARC-Truncated",
            lambda m, r=marked: rewrite(data, r, mark),
        ),
        short["capture"]["warc_offset"]: (
            "cut short",
            lambda m, r=short: rewrite(data, r, shorten),
        ),
        cut["capture"]["warc_offset"]: ("gzip member", lambda m: m[: len(m) // 2]),
        http_cut["capture"]["warc_offset"]: (
            "HTTP payload cut short",
            lambda m, r=http_cut: rewrite(data, r, cut_body),
        ),
    }
    out, expected = bytearray(), []
    for offset, length in members(data):
        piece = data[offset : offset + length]
        if offset in changes:
            reason, change = changes[offset]
            expected.append((len(out), reason))
            piece = change(piece)
        out += piece
    archive, warc = copy_archive(crawl, tmp_path, bytes(out))

    run = reindex(archive, tmp_path / "db.sqlite")

    assert run.returncode == 1, run.stderr
    lines = damage_lines(run.stderr)
    assert len(lines) == 4, run.stderr
    for line, (offset, reason) in zip(lines, expected, strict=True):
        assert warc.name in line and f"byte {offset} " in line and reason in line, (line, reason)
    lost = {marked["url"], short["url"], cut["url"], http_cut["url"]}
    assert stored_urls(tmp_path / "db.sqlite") == {r["url"] for r in recs} - lost


def test_a_folder_with_only_open_files_is_an_error_not_a_silent_success(crawl, tmp_path):
    archive, _ = copy_archive(crawl, tmp_path, name=crawl["warc"].name + ".open")
    run = reindex(archive, tmp_path / "db.sqlite")
    assert run.returncode == 2, run.stderr
    assert ".open" in run.stderr and "unfinished" in run.stderr
    assert "dgarchive crawl" in run.stderr  # what repairs them
    assert "reindexed" not in run.stdout
    assert not (tmp_path / "db.sqlite").exists()  # nothing done, no empty database made


def test_a_folder_without_any_warc_is_an_error(tmp_path):
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "notes.txt").write_text("not a WARC")
    run = reindex(tmp_path / "archive", tmp_path / "db.sqlite")
    assert run.returncode == 2, run.stderr
    assert "no *.warc.gz or *.warc file" in run.stderr
    assert not (tmp_path / "db.sqlite").exists()


# -- the reader and the repair stream: a record in memory at a time -------------------------


def test_reading_and_repair_hold_one_record_in_memory_not_the_file(crawl, tmp_path):
    import tracemalloc

    from crawler.config import canonical_urls
    from pipelines.warc.reader import read_warc
    from pipelines.warc.repair import complete_prefix_length

    data = crawl["warc"].read_bytes()
    big = tmp_path / "big.warc.gz"
    with open(big, "wb") as fh:
        for _ in range(4):  # gzip members concatenate: four crawls' records in one file
            fh.write(data)
    size = big.stat().st_size
    assert size > 3_000_000
    list(read_warc(crawl["warc"]))  # imports and caches warmed outside the measurement
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        items = read_warc(big, canonical_urls=canonical_urls)
        captures = sum(1 for item in items if not hasattr(item, "reason"))
        read_peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        assert complete_prefix_length(big) == size
        repair_peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert captures == 4 * len(list(read_warc(crawl["warc"])))
    assert read_peak < 1_500_000, read_peak
    assert repair_peak < 1_000_000, repair_peak


def test_resync_finds_a_record_whose_marker_straddles_two_reads(crawl, tmp_path, monkeypatch):
    """The forward scan reads in chunks; a `WARC/1.1` line or gzip magic cut by a chunk
    boundary must still be found: every chunk size gives the same records and damage."""
    from pipelines.warc import scan

    data = crawl["warc"].read_bytes()
    recs = crawl["records"]
    at = recs[5]["capture"]["warc_offset"] + 100
    damaged = data[:at] + garbage(3000, seed=4) + data[at:]
    gz = tmp_path / "d.warc.gz"
    gz.write_bytes(damaged)
    plain = tmp_path / "d.warc"
    text = gzip.decompress(data)
    plain.write_bytes(text[:5000] + garbage(3000, seed=5) + text[5000:])

    def outline(path):
        return [(type(i).__name__, i.offset, i.end) for i in scan.scan(path)]

    expected = {p: outline(p) for p in (gz, plain)}
    assert all(sum(1 for kind, *_ in e if kind == "Damage") == 1 for e in expected.values())
    for chunk in (5, 7, 11, 4096):
        monkeypatch.setattr(scan, "CHUNK", chunk)
        for path in (gz, plain):
            assert outline(path) == expected[path], (chunk, path.name)


def test_repair_keeps_a_record_marked_truncated_and_cuts_at_real_damage(crawl, tmp_path):
    """WARC-Truncated is a whole record whose payload was cut at capture: reindex refuses it,
    but the repair of a killed crawl's `.open` file must not cut the file there."""
    from pipelines.warc.repair import repair_open_files

    data = crawl["warc"].read_bytes()
    recs = crawl["records"]
    marked, broken = recs[3], recs[8]

    def mark(record: bytes) -> bytes:
        first, _, rest = record.partition(b"\r\n")
        return first + b"\r\nWARC-Truncated: length\r\n" + rest

    out = bytearray()
    cut_at = None
    for offset, length in members(data):
        piece = data[offset : offset + length]
        if offset == marked["capture"]["warc_offset"]:
            piece = rewrite(data, marked, mark)
        elif offset == broken["capture"]["warc_offset"]:
            cut_at = len(out)
            piece = piece[: len(piece) // 2]
        out += piece
    open_file = tmp_path / (crawl["warc"].name + ".open")
    open_file.write_bytes(bytes(out))
    (repaired,) = repair_open_files(tmp_path)
    assert Path(repaired).read_bytes() == bytes(out[:cut_at])


def test_a_file_whose_warcinfo_is_damaged_maps_urls_with_another_files_site_root(crawl, tmp_path):
    """The crawl's file split in two, as a rollover writes it; the second file's warcinfo
    (which names the mirror's site root) is garbage. Its articles still come back under
    their www.dg.gov.cn URLs, not skipped as off-site."""
    data = crawl["warc"].read_bytes()
    recs = crawl["records"]
    parts = members(data)
    info = data[: parts[0][1]]
    split = recs[len(recs) // 2]["capture"]["warc_offset"]
    archive = tmp_path / "archive"
    archive.mkdir()
    first = archive / "DGARCHIVE-20261122031500123-00000-host.warc.gz"
    second = archive / "DGARCHIVE-20261122031600123-00001-host.warc.gz"
    first.write_bytes(data[:split])
    second.write_bytes(garbage(len(info), seed=6) + data[split:])

    run = reindex(archive, tmp_path / "db.sqlite")

    assert run.returncode == 1, run.stderr
    (line,) = damage_lines(run.stderr)
    assert second.name in line and "byte 0 " in line
    assert f"{second.name}: no complete warcinfo record first" in run.stderr
    assert "reindexed 2 WARC file(s)" in run.stdout
    assert stored_urls(tmp_path / "db.sqlite") == {r["url"] for r in recs}
