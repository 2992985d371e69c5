"""One crawl per archive and database at a time: `flock` run locks. No Scrapy imports.

The kernel holds the lock, not the file: when the holding process dies, however it dies
(SIGKILL, OOM killer, power cut), the lock is released with it, so a lock left behind by a
dead crawl is taken over by the next run without any pid guessing. The file only carries the
holder's identity (JSON) for the refusal message and for the operator who finds it.

The lock file is never deleted: unlinking a file that another process has open and is about
to lock would let two processes each hold a lock on a different inode of the "same" file.
A clean exit empties it instead, so a non-empty file found unlocked was left by a dead run.

`flock` works across containers sharing a volume on one host and on local file systems; on
network file systems it is only as good as their lock emulation (NFSv4: yes; SMB: no).

Workers of one distributed run (`crawl --frontier`) share the locks: each takes the flock
shared (`shared=True`) and is refused unless the record names its own run; a single crawl
takes it exclusive and so is refused while any worker holds it, and the other way round.
On PostgreSQL (`crawler.dblock`) the same holds with the shared form of the advisory lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pipelines.dates import utc_now, utc_z

logger = logging.getLogger(__name__)

LOCK_NAME = ".dgarchive.lock"


class LockHeldError(RuntimeError):
    """Another live process holds the lock. `holder` is its JSON record, or None if unreadable."""

    def __init__(self, path: Path | str, holder: dict[str, Any] | None) -> None:
        self.path = path
        self.holder = holder
        super().__init__(f"another crawl holds {path}: {describe_holder(holder)}")


def describe_holder(holder: dict[str, Any] | None) -> str:
    """`pid 1234 on host since 2026-11-22T00:15:00Z, run <id>` (one line)."""
    if not holder:
        # The holder has locked the file but not yet written it, or wrote it with an older
        # program: the lock still stands, only its label is missing.
        return "holder unknown (empty lock file)"
    text = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
    if holder.get("started_at"):
        text += f" since {holder['started_at']}"
    if holder.get("run_id"):
        text += f", run {holder['run_id']}"
    return text


def read_holder(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The holder record in a lock file, or None if it is missing, empty or not ours."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return _parse_holder(text)


def _parse_holder(text: str) -> dict[str, Any] | None:
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def utcnow_stamp() -> str:
    """Now in UTC as `2026-11-22T00:15:00Z`: the `started_at` of a lock holder."""
    return utc_z(utc_now())


class RunLock:
    """An exclusive, non-blocking run lock on `path`; a context manager.

    `acquire()` raises `LockHeldError` at once if a live process holds it. On success the
    file holds `{"pid", "host", "started_at", "run_id", "argv"}`; `taken_over` is the record
    of a dead holder whose lock file was found unlocked, or None.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        run_id: str | None = None,
        argv: Sequence[str] | None = None,
        shared: bool = False,
    ) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self.shared = shared
        self.argv = list(sys.argv if argv is None else argv)
        self.holder: dict[str, Any] | None = None
        self.taken_over: dict[str, Any] | None = None
        self._fd: int | None = None

    @property
    def locked(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already locked by this RunLock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_CLOEXEC: a program this crawl starts must not inherit, and so outlive, the lock.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                os.close(fd)
                raise
            if self.shared and self._join_shared(fd):
                return self
            holder = self._read_locked_holder(fd)
            os.close(fd)
            raise LockHeldError(self.path, holder) from None
        try:
            previous = _parse_holder(_read_fd(fd))
            same_run = previous and previous.get("shared") and previous.get("run_id") == self.run_id
            if previous is not None and not (self.shared and same_run):
                self.taken_over = previous
                logger.warning(
                    "taking over stale lock %s left by a crawl that did not finish: %s",
                    self.path,
                    describe_holder(previous),
                )
            self.holder = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started_at": utcnow_stamp(),
                "run_id": self.run_id,
                "argv": self.argv,
            }
            if self.shared:
                self.holder["shared"] = True
            _write_fd(fd, json.dumps(self.holder, ensure_ascii=False) + "\n")
            if self.shared:
                # Not atomic (flock drops, then takes): another process may slip into the
                # gap and hold it exclusive. A worker of this same run only writes its record
                # and shares it too, so wait for that; anything else refuses this worker.
                self._downgrade(fd)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                raise LockHeldError(self.path, _parse_holder(_read_fd_path(self.path))) from None
            raise
        except BaseException:
            os.close(fd)  # closing releases the flock
            raise
        self._fd = fd
        return self

    def _downgrade(self, fd: int) -> None:
        """Take the lock shared; while a worker of this run holds it exclusive for a moment
        (writing its record, or between its two flock calls), wait up to 2 s."""
        for _ in range(100):
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                    raise
                holder = _parse_holder(_read_fd(fd))
                if holder and not (holder.get("shared") and holder.get("run_id") == self.run_id):
                    raise
                time.sleep(0.02)
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)

    def _join_shared(self, fd: int) -> bool:
        """Take the lock shared if it is held shared by workers of this same run."""
        try:
            self._downgrade(fd)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                raise
            return False  # a single crawl (or another run) holds it exclusive
        holder = self._read_locked_holder(fd)
        if holder and holder.get("shared") and holder.get("run_id") == self.run_id:
            self.holder = holder
            self._fd = fd
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False

    def _read_locked_holder(self, fd: int) -> dict[str, Any] | None:
        # The holder writes its record right after locking: give it a moment if we came
        # between the two, so the refusal names it.
        holder = _parse_holder(_read_fd(fd))
        for _ in range(5):
            if holder is not None:
                break
            time.sleep(0.02)
            holder = _parse_holder(_read_fd(fd))
        return holder

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if self.shared:
            try:  # the last worker of the run out empties the file; the others leave it
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return
        try:
            os.ftruncate(fd, 0)  # a clean exit leaves an empty file: nothing to take over
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "locked" if self.locked else "unlocked"
        return f"<RunLock {self.path} {state}>"


def _read_fd(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _read_fd_path(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _write_fd(fd: int, text: str) -> None:
    data = text.encode("utf-8")
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    while data:
        data = data[os.write(fd, data) :]
    os.fsync(fd)


class MultiLock:
    """Several `RunLock`s taken in order, all or none; a context manager.

    If one is held elsewhere, the ones already taken are released before `LockHeldError`
    propagates. The paths are de-duplicated (two names for one file would refuse each other).
    """

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        run_id: str | None = None,
        argv: Sequence[str] | None = None,
    ) -> None:
        unique: dict[Path, None] = {}
        for p in paths:
            unique.setdefault(_canonical(Path(p)), None)
        self.locks = [RunLock(p, run_id=run_id, argv=argv) for p in unique]
        self._stack: ExitStack | None = None

    def acquire(self) -> MultiLock:
        with ExitStack() as stack:
            for lock in self.locks:
                stack.enter_context(lock)
            self._stack = stack.pop_all()
        return self

    def release(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.close()

    def __enter__(self) -> MultiLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _canonical(path: Path) -> Path:
    # Resolve the directory (it may be a symlink) but not a missing file.
    return path.parent.resolve() / path.name


def lock_path_for(archive_dir: str | os.PathLike[str], db_url: str | None = None) -> Path:
    """The run lock of an archive directory: `<archive>/.dgarchive.lock`.

    `db_url` is accepted for symmetry with `lock_paths` and does not change the answer: the
    archive is what two crawls must never write at once.
    """
    return _canonical(Path(archive_dir) / LOCK_NAME)


def lock_paths(archive_dir: str | os.PathLike[str], db_url: str | None) -> list[Path]:
    """Every lock one crawl takes: the archive's, then one beside an SQLite database file.

    Two crawls with different archives but the same SQLite file would interleave their
    article versions, so the database file gets its own lock,
    `<dir>/.<name>.dgarchive.lock`, unless that is the archive lock itself. A server
    database (PostgreSQL) has no file to lock here; `crawler.dblock.DatabaseLock` locks it
    in the server.
    """
    from pipelines.store import sqlite_file  # SQLAlchemy: only when a URL is given

    return lock_paths_for_file(archive_dir, sqlite_file(db_url) if db_url else None)


def lock_paths_for_file(archive_dir: str | os.PathLike[str], db_file: Path | None) -> list[Path]:
    """`lock_paths`, given the SQLite database file (`pipelines.store.sqlite_file`) or None."""
    paths = [lock_path_for(archive_dir)]
    if db_file is not None:
        db_lock = _canonical(db_file.parent / f".{db_file.name}.dgarchive.lock")
        if db_lock not in paths:
            paths.append(db_lock)
    return paths
