"""What an archive already holds: the target URIs of its final responses. No Scrapy imports.

The incremental crawl asks it which page requisites an earlier run captured, so they are not
fetched again. The WARC files themselves are the source (a database row or a side list can
disagree with them); a per-file cache (`.dgarchive/held-uris.json` in the archive directory,
keyed by file name, size and modification time) keeps a run from reading the files it read
before, so the cost is the new files only. Files still `.open` (a killed run, repaired at the
next crawl's start) are left out: what they hold is fetched again, the safe direction.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

log = logging.getLogger(__name__)

CACHE_NAME = os.path.join(".dgarchive", "held-uris.json")
CACHE_VERSION = 1
WARC_SUFFIXES = (".warc.gz", ".warc")


def held(status: int | None) -> bool:
    """Whether a response with `status` is a capture to keep rather than try again: success,
    redirects and definite answers such as 404 are; 5xx, 408 and 429 are passing trouble."""
    return status is not None and status < 500 and status not in (408, 429)


def file_uris(path: str | os.PathLike[str]) -> list[str]:
    """Target URIs of the held responses in one WARC file, in file order.

    Raises OSError or ArchiveLoadFailed for a file that cannot be read to its end."""
    out: dict[str, None] = {}
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type != "response" or record.http_headers is None:
                continue
            try:
                status = int(record.http_headers.get_statuscode())
            except (TypeError, ValueError):
                continue
            if held(status):
                out[record.rec_headers.get_header("WARC-Target-URI")] = None
    return list(out)


def _warc_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith(WARC_SUFFIXES) and p.is_file())


def _load_cache(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _save_cache(path: Path, files: dict[str, dict]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".held-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"version": CACHE_VERSION, "files": files}, fh, ensure_ascii=False)
        os.replace(tmp, path)
    except OSError as exc:  # a cache it cannot write only costs the next run a re-read
        log.warning("could not write the archive inventory cache %s: %s", path, exc)


def held_uris(directory: str | os.PathLike[str], *, use_cache: bool = True) -> set[str]:
    """Target URIs of every held response in the closed WARC files of `directory`."""
    root = Path(directory)
    if not root.is_dir():
        return set()
    cache_path = root / CACHE_NAME
    cached = _load_cache(cache_path) if use_cache else {}
    files: dict[str, dict] = {}
    uris: set[str] = set()
    read = 0
    for path in _warc_files(root):
        st = path.stat()
        entry = cached.get(path.name)
        if not (
            isinstance(entry, dict)
            and entry.get("size") == st.st_size
            and entry.get("mtime_ns") == st.st_mtime_ns
            and isinstance(entry.get("uris"), list)
        ):
            try:
                entry = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "uris": file_uris(path)}
            except (OSError, ArchiveLoadFailed, ValueError) as exc:
                # A damaged file: nothing of it counts as held, and it is read again next time.
                log.warning("could not read %s for the archive inventory: %s", path.name, exc)
                continue
            read += 1
        files[path.name] = entry
        uris.update(entry["uris"])
    if use_cache and (read or files.keys() != cached.keys()):
        _save_cache(cache_path, files)
    return uris
