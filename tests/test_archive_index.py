"""The archive's CDXJ index (`pipelines.warc.cdxj`, `dgarchive index`): sorted, incremental,
plain or ZipNum, and rebuilt when a file it read has changed."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

from pipelines.warc.cdxj import cdxj_lines, read_index, update_index
from tests.e2e import dgarchive

GOLDEN = Path(__file__).parent / "fixtures" / "warc" / "golden.warc"


def _archive(tmp_path: Path, *names: str) -> Path:
    archive = tmp_path / "archive"
    archive.mkdir()
    for name in names:
        shutil.copy(GOLDEN, archive / name)
    return archive


def _sorted_by_key(lines: list[str]) -> bool:
    return lines == sorted(lines)


def test_first_run_indexes_every_finished_file_sorted(tmp_path: Path) -> None:
    archive = _archive(tmp_path, "a.warc", "b.warc")
    (archive / "c.warc.gz.open").write_bytes(b"being written")
    result = update_index(archive)
    lines = (archive / "indexes" / "index.cdxj").read_text().splitlines(keepends=True)
    assert result.files_read == ["a.warc", "b.warc"]
    assert len(lines) == 2 * len(cdxj_lines([GOLDEN])) == result.lines_total
    assert _sorted_by_key(lines)
    assert {json.loads(line.split(" ", 2)[2])["filename"] for line in lines} == {"a.warc", "b.warc"}
    # pywb's key: SURT, then the 14-digit time
    key, ts, _ = lines[0].split(" ", 2)
    assert key.startswith("1,0,0,127:8123)/") and len(ts) == 14


def test_later_runs_read_only_new_files(tmp_path: Path) -> None:
    archive = _archive(tmp_path, "a.warc")
    update_index(archive)
    again = update_index(archive)
    assert again.files_read == [] and again.lines_added == 0
    shutil.copy(GOLDEN, archive / "b.warc")
    added = update_index(archive)
    assert added.files_read == ["b.warc"] and not added.rebuilt
    assert list(read_index(archive)) == sorted(cdxj_lines([archive / "a.warc", archive / "b.warc"]))


def test_a_changed_or_removed_file_rebuilds(tmp_path: Path) -> None:
    archive = _archive(tmp_path, "a.warc", "b.warc")
    update_index(archive)
    (archive / "b.warc").unlink()
    result = update_index(archive)
    assert result.rebuilt and result.files_read == ["a.warc"]
    assert all('"filename": "a.warc"' in line for line in read_index(archive))
    os.utime(archive / "a.warc", (1, 1))
    assert update_index(archive).rebuilt


def test_large_index_is_a_zipnum_cluster_pywb_can_read(tmp_path: Path) -> None:
    archive = _archive(tmp_path, "a.warc", "b.warc")
    plain = list(read_index(archive)) or None
    assert plain is None
    result = update_index(archive, zipnum_threshold=100, lines_per_block=3)
    folder = archive / "indexes"
    assert result.zipnum and result.path == folder / "index.idx"
    assert not (folder / "index.cdxj").exists()
    idx = (folder / "index.idx").read_text().splitlines()
    assert len(idx) == 3  # 8 lines in blocks of 3
    lines = list(read_index(archive))
    assert lines == sorted(cdxj_lines([archive / "a.warc", archive / "b.warc"]))
    data = (folder / "index.cdx.gz").read_bytes()
    for n, row in enumerate(idx):
        key, part, offset, length, lineno = row.split("\t")
        block = gzip.decompress(data[int(offset) : int(offset) + int(length)]).decode()
        assert part == "index.cdx.gz" and int(lineno) == n + 1
        assert block.startswith(key + " ")  # the summary names each block's first key
    assert (folder / "index.loc").read_text() == "index.cdx.gz\tindex.cdx.gz\n"
    # Below the threshold again: back to plain.
    assert not update_index(archive).zipnum and (folder / "index.cdxj").exists()


def test_an_unreadable_file_is_named_and_retried(tmp_path: Path) -> None:
    archive = _archive(tmp_path, "a.warc")
    (archive / "bad.warc.gz").write_bytes(b"\x1f\x8b\x08\x00garbage" * 10)
    result = update_index(archive)
    assert "bad.warc.gz" in result.failed and result.files_read == ["a.warc"]
    assert update_index(archive).failed.keys() == {"bad.warc.gz"}  # not marked as indexed


def test_index_command(tmp_path: Path) -> None:
    archive = _archive(tmp_path, "a.warc")
    run = dgarchive("index", "--archive", str(archive))
    assert run.returncode == 0, run.stderr
    assert "indexed 1 WARC file(s), 4 new line(s)" in run.stdout
    missing = dgarchive("index", "--archive", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
