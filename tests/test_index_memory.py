"""The replay index is merged through files on disk, not lists (issue 15, memory): the
crawl updates it at its end, and an index held in memory grew with the archive."""

from __future__ import annotations

from pathlib import Path

import pytest
from cdxj_indexer.main import SortingWriter

from pipelines.warc import cdxj
from pipelines.warc.cdxj import cdxj_lines, read_index, update_index
from tests.test_archive_index import _archive


def test_a_file_larger_than_the_sort_buffer_is_sorted_in_runs_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _archive(tmp_path, "a.warc", "b.warc", "c.warc")
    expected = sorted(cdxj_lines([archive / n for n in ("a.warc", "b.warc", "c.warc")]))
    spilled = []
    to_temp = SortingWriter.write_to_temp

    def counting(self: SortingWriter) -> str:
        spilled.append(len(self.sortedlist))
        return to_temp(self)

    monkeypatch.setattr(SortingWriter, "write_to_temp", counting)
    monkeypatch.setattr(cdxj, "SORT_BUFFER", 100)  # under one line: every line its own run
    result = update_index(archive)
    assert len(spilled) == len(expected)  # nothing was sorted as one list in memory
    assert list(read_index(archive)) == expected
    assert result.lines_added == result.lines_total == len(expected)
    assert not [p for p in (archive / "indexes").iterdir() if p.name.startswith(".merge-")]


def test_only_the_layout_changes_when_nothing_is_new(tmp_path: Path) -> None:
    archive = _archive(tmp_path, "a.warc", "b.warc")
    update_index(archive)
    plain = list(read_index(archive))
    zipped = update_index(archive, zipnum_threshold=100, lines_per_block=3)
    assert zipped.zipnum and zipped.files_read == [] and zipped.lines_total == len(plain)
    assert not (archive / "indexes" / "index.cdxj").exists()
    assert list(read_index(archive)) == plain
    back = update_index(archive)
    assert not back.zipnum and (archive / "indexes" / "index.cdxj").exists()
    assert not (archive / "indexes" / "index.idx").exists()
    assert list(read_index(archive)) == plain
