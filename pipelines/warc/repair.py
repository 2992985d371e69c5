"""Repair of the `.open` WARC files a killed process left behind, streaming. No Scrapy imports.

Each is cut back to its last complete, verified record (framing and checks in
`pipelines.warc.scan`, one record in memory at a time) and renamed to its final name.
"""

from __future__ import annotations

import glob
import os
import uuid

from pipelines.warc.openfiles import fsync_dir, lock, same_file
from pipelines.warc.scan import Damage, scan


def complete_prefix_length(path: str | os.PathLike) -> int:
    """Length of the longest prefix of a WARC file made of complete, verified records.

    A record counts when its block has all its bytes, its block digest (if any) matches,
    its gzip member ends properly (gzip files) or its trailing CRLF CRLF is there (plain
    files): the checks of `pipelines.warc.scan`, which reads the file a record at a time
    rather than whole.
    """
    good = 0
    # A WARC-Truncated record is whole as a record (its payload was cut at capture): kept.
    for item in scan(path, refuse_truncated=False):
        if isinstance(item, Damage):
            break
        good = item.end
    return good


def repair_open_files(directory: str | os.PathLike) -> list[str]:
    """Finish the `*.open` files a killed process left in `directory`; return final paths.

    Each is cut back to its complete records and renamed to its final name. A file with no
    complete record at all is removed.
    """
    repaired = []
    for open_path in sorted(glob.glob(os.path.join(glob.escape(os.fspath(directory)), "*.open"))):
        try:
            fd = os.open(open_path, os.O_RDWR)
        except FileNotFoundError:
            continue  # finished meanwhile
        try:
            try:
                lock(fd)
            except BlockingIOError:
                continue  # a live writer holds it
            if not same_file(fd, open_path):
                continue
            good = complete_prefix_length(open_path)
            if good == 0:
                os.unlink(open_path)
                continue
            os.ftruncate(fd, good)
            os.fsync(fd)
            final = open_path[: -len(".open")]
            if os.path.exists(final):  # never overwrite a finished file
                stem, dot, ext = final.partition(".warc")
                final = f"{stem}-repaired-{uuid.uuid4().hex[:8]}{dot}{ext}"
            os.rename(open_path, final)
            repaired.append(final)
        finally:
            os.close(fd)
    if repaired:
        fsync_dir(os.fspath(directory))
    return repaired
