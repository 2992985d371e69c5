"""The archive's replay index: a SURT-sorted CDXJ of every finished WARC file in a directory,
kept up to date incrementally. No Scrapy imports.

The CDXJ lines come from `cdxj-indexer` (webrecorder's indexer, the one py-wacz uses): one
line per response, revisit and non-`warc-fields` metadata/resource record. This module only
decides which files to read, merges new lines into the existing index and writes it as pywb
reads it, under `<archive>/indexes/`:

- `index.cdxj`, plain, while the index is under `zipnum_threshold` bytes;
- above it a ZipNum cluster in pywb's format: `index.cdx.gz` (gzip members of
  `lines_per_block` lines), `index.idx` (`first key<TAB>part<TAB>offset<TAB>length<TAB>n`)
  and `index.loc` (part -> file), which pywb binary-searches without reading the whole index.

`indexed.json` there records each indexed file's size and mtime: a run reads only WARC files
not listed (or listed with another size/mtime, which rebuilds the index from every file, as
does a listed file that has gone). `.open` files are still being written and are skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import heapq
import io
import json
import os
import tempfile
import warnings
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

INDEX_DIR = "indexes"
PLAIN_NAME = "index.cdxj"
ZIPNUM_DATA = "index.cdx.gz"
ZIPNUM_IDX = "index.idx"
ZIPNUM_LOC = "index.loc"
STATE_NAME = "indexed.json"
LOCK_NAME = ".index.lock"
# Plain CDXJ up to 64 MiB (about 200,000 captures); pywb reads a plain index by binary search
# too, but a ZipNum index is a tenth of the size on disk and loads in blocks.
DEFAULT_ZIPNUM_THRESHOLD = 64 * 1024 * 1024
DEFAULT_LINES_PER_BLOCK = 3000
WARC_SUFFIXES = (".warc.gz", ".warc")
# Characters of CDXJ lines cdxj-indexer sorts in memory before it spills a sorted run to disk.
SORT_BUFFER = 4 * 1024 * 1024


@dataclass
class IndexResult:
    """What one `update_index` did."""

    path: Path  # the file pywb is given: index.cdxj or index.idx
    files_read: list[str] = field(default_factory=list)  # WARC files indexed this time
    lines_added: int = 0
    lines_total: int = 0
    rebuilt: bool = False  # a known file changed or went: every file was read again
    failed: dict[str, str] = field(default_factory=dict)  # unreadable files: left out, retried
    zipnum: bool = False


def finished_warcs(archive: str | os.PathLike) -> list[Path]:
    """The finished WARC files directly in `archive`, by name (the writer's names sort by time)."""
    root = Path(archive)
    return sorted(p for p in root.iterdir() if p.is_file() and p.name.endswith(WARC_SUFFIXES))


def cdxj_lines(paths: Iterable[str | os.PathLike]) -> list[str]:
    """SURT-sorted CDXJ lines (newline-terminated) of `paths`, `filename` their base names."""
    indexer = _indexer_class()
    inputs = [os.fspath(p) for p in paths]
    if not inputs:
        return []
    out = io.StringIO()
    indexer(out, inputs, sort=True).process_all()
    return out.getvalue().splitlines(keepends=True)


def index_path(archive: str | os.PathLike) -> Path | None:
    """The index file pywb should read (plain or ZipNum summary), or None before the first run."""
    folder = Path(archive) / INDEX_DIR
    for name in (ZIPNUM_IDX, PLAIN_NAME):
        if (folder / name).exists():
            return folder / name
    return None


def read_index(archive: str | os.PathLike) -> Iterator[str]:
    """Every line of the archive's current index, in order (newline-terminated)."""
    folder = Path(archive) / INDEX_DIR
    if (folder / ZIPNUM_IDX).exists():
        # Concatenated gzip members: gzip reads them as one stream.
        with gzip.open(folder / ZIPNUM_DATA, "rt", encoding="utf-8", newline="\n") as fh:
            yield from fh
    elif (folder / PLAIN_NAME).exists():
        with open(folder / PLAIN_NAME, encoding="utf-8", newline="\n") as fh:
            yield from fh


def update_index(
    archive: str | os.PathLike,
    *,
    zipnum_threshold: int = DEFAULT_ZIPNUM_THRESHOLD,
    lines_per_block: int = DEFAULT_LINES_PER_BLOCK,
) -> IndexResult:
    """Bring `<archive>/indexes/` up to date with the finished WARC files in `archive`."""
    root = Path(archive)
    folder = root / INDEX_DIR
    folder.mkdir(exist_ok=True)
    with open(folder / LOCK_NAME, "a") as lock_fh:  # one indexer at a time per archive
        fcntl.flock(lock_fh, fcntl.LOCK_EX)
        return _update(root, folder, zipnum_threshold, lines_per_block)


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _update(root: Path, folder: Path, threshold: int, lines_per_block: int) -> IndexResult:
    state_path = folder / STATE_NAME
    try:
        known: dict[str, list[int]] = json.loads(state_path.read_text())["files"]
    except (OSError, ValueError, KeyError):
        known = {}
    current = {p.name: _stat_key(p) for p in finished_warcs(root)}
    has_index = index_path(root) is not None
    rebuilt = not has_index or any(current.get(n) != k for n, k in known.items())
    result = IndexResult(path=folder / PLAIN_NAME, rebuilt=rebuilt and has_index)
    if rebuilt:
        new = sorted(current)
        known = {}
    else:
        new = sorted(n for n in current if n not in known)
    # Streamed through sorted files on disk, never held as lists: the index of a crawl of
    # 20,000 articles in memory (its lines, their merge and the joined output) was 44 MB
    # of the crawl's peak RSS, and it grows with the archive.
    with tempfile.TemporaryDirectory(prefix=".merge-", dir=folder) as tmp:
        per_file: list[Path] = []
        for name in list(new):
            out = Path(tmp) / f"{len(per_file)}.cdxj"
            try:
                _sorted_cdxj(root / name, out)
            except Exception as exc:  # noqa: BLE001 - any unreadable file: named, left for next run
                result.failed[name] = f"{type(exc).__name__}: {exc}"
                new.remove(name)
                continue
            per_file.append(out)
        result.files_read = new
        merged_path = Path(tmp) / "merged.cdxj"
        with contextlib.ExitStack() as stack:
            added = [
                _counted(stack.enter_context(open(p, encoding="utf-8", newline="\n")), result)
                for p in per_file
            ]
            old = read_index(root) if not rebuilt else iter(())
            if added:
                size, result.lines_total = _write_lines(merged_path, heapq.merge(old, *added))
            else:
                size, result.lines_total = _measure(old)
        zipnum = size > threshold
        was_zipnum = (folder / ZIPNUM_IDX).exists()
        if not new and has_index and zipnum == was_zipnum:  # nothing new, layout as it should be
            result.path, result.zipnum = folder / (ZIPNUM_IDX if zipnum else PLAIN_NAME), zipnum
            return result
        if not added:  # only the layout changes: the same lines, in the other layout
            _write_lines(merged_path, read_index(root) if not rebuilt else ())
        if zipnum:
            result.path, result.zipnum = _write_zipnum(folder, merged_path, lines_per_block), True
            (folder / PLAIN_NAME).unlink(missing_ok=True)
        else:
            _install(merged_path, folder / PLAIN_NAME)
            for name in (ZIPNUM_IDX, ZIPNUM_DATA, ZIPNUM_LOC):
                (folder / name).unlink(missing_ok=True)
    state = {"files": {**known, **{n: current[n] for n in new}}}
    _atomic_write(state_path, json.dumps(state, indent=1, sort_keys=True).encode())
    return result


def _sorted_cdxj(path: Path, out: Path) -> None:
    """The SURT-sorted CDXJ lines of one WARC file, written to `out`. cdxj-indexer sorts in
    runs of SORT_BUFFER characters on disk and merges them, so memory stays bounded."""
    indexer = _indexer_class()
    indexer(
        os.fspath(out), [os.fspath(path)], sort=True, max_sort_buff_size=SORT_BUFFER
    ).process_all()


def _indexer_class() -> type:
    with warnings.catch_warnings():
        # cdxj-indexer's AMF support imports pyamf, which imports setuptools' deprecated
        # pkg_resources at load time: a warning about a dependency's dependency, not ours, and
        # it would follow the crawl's summary line.
        warnings.filterwarnings(
            "ignore", message="pkg_resources is deprecated", category=UserWarning
        )
        from cdxj_indexer.main import CDXJIndexer
    return CDXJIndexer


def _counted(lines: Iterable[str], result: IndexResult) -> Iterator[str]:
    for line in lines:
        result.lines_added += 1
        yield line


def _measure(lines: Iterable[str]) -> tuple[int, int]:
    """(bytes, lines) of an index's lines."""
    size = count = 0
    for line in lines:
        size += len(line.encode("utf-8"))
        count += 1
    return size, count


def _write_lines(path: Path, lines: Iterable[str]) -> tuple[int, int]:
    """Write lines (UTF-8) to `path`; (bytes, lines) written."""
    size = count = 0
    with open(path, "wb") as fh:
        for line in lines:
            data = line.encode("utf-8")
            fh.write(data)
            size += len(data)
            count += 1
    return size, count


def _install(src: Path, path: Path) -> None:
    """Move a finished file into place durably (fsync, then rename over `path`)."""
    with open(src, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(src, path)


def _write_zipnum(folder: Path, merged: Path, lines_per_block: int) -> Path:
    """pywb's ZipNum cluster: gzip blocks, the summary (idx) and the location (loc) file."""
    idx: list[str] = []  # one line per block: a 3,000th of the index
    tmp = folder / f".{ZIPNUM_DATA}.{os.getpid()}.tmp"
    try:
        with open(merged, encoding="utf-8", newline="\n") as lines, open(tmp, "wb") as data:
            for n, block in enumerate(_blocks(lines, lines_per_block)):
                comp = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                member = comp.compress("".join(block).encode("utf-8")) + comp.flush()
                key = " ".join(block[0].split(" ", 2)[:2])  # urlkey and timestamp of the first line
                idx.append(f"{key}\t{ZIPNUM_DATA}\t{data.tell()}\t{len(member)}\t{n + 1}\n")
                data.write(member)
        _install(tmp, folder / ZIPNUM_DATA)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _atomic_write(folder / ZIPNUM_LOC, f"{ZIPNUM_DATA}\t{ZIPNUM_DATA}\n".encode())
    _atomic_write(folder / ZIPNUM_IDX, "".join(idx).encode("utf-8"))
    return folder / ZIPNUM_IDX


def _blocks(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    block: list[str] = []
    for line in lines:
        block.append(line)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
