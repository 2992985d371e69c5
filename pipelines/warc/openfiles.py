"""The `.open` file protocol the writer and the repair share: lock, identity, directory fsync.

A writer holds an exclusive advisory lock on the `<name>.open` file it writes; the repair
only touches `.open` files whose lock it can take. No Scrapy imports.
"""

from __future__ import annotations

import os

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no advisory locks, repair trusts the caller
    fcntl = None


def lock(fd: int) -> None:
    """An exclusive advisory lock, without waiting (BlockingIOError when held elsewhere)."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def same_file(fd: int, path: str) -> bool:
    """True when `path` still names the file open as `fd` (not removed, not replaced)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino)


def fsync_dir(directory: str) -> None:
    """Fsync a directory, so a rename or unlink in it survives a crash."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
