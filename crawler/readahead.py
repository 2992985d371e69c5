"""Run a producer of picklable items in a child process, so it overlaps with their consumer.

`dgarchive extract` over a WARC file spends about a quarter of its CPU reading the file
(inflating and digesting every record, warcio's parse, the payload's Content-Encoding) and
the rest extracting the articles, one after the other in one Python thread. `ahead(produce)`
forks a child that runs `produce()` and sends its items through a pipe in batches, while
the caller consumes them: the reading runs on the machine's other core. The items come in
the order `produce` yields them; an exception `produce` raises comes after the items yielded
before it, as if the caller had run `produce()` itself.

In a process with other threads running (a test server, a crawl), or without `os.fork`,
`produce()` runs in the caller's process: forking a process with threads may copy a lock
another thread holds.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, TypeVar

try:
    import fcntl
    import termios
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]
    termios = None  # type: ignore[assignment]

T = TypeVar("T")

BATCH = 8  # items a message: fewer pickles and pipe writes, little held back
PIPE_SIZE = 1 << 20  # Linux's default pipe-max-size for unprivileged processes
_BUFFER = 1 << 16


# In a forked child, the pipe's write end: what `backlog` asks about.
_SENDING_TO: int | None = None


def backlog() -> int | None:
    """Called by the producer in a forked child: the bytes of items sent that the consumer
    has not read yet, that is how much work it has queued (the producer can then do more
    of the work itself when the consumer is behind, or hand it more when it is waiting).
    None where no child was forked or the system cannot tell (no FIONREAD on pipes)."""
    if _SENDING_TO is None or fcntl is None:
        return None
    try:
        return int.from_bytes(
            fcntl.ioctl(_SENDING_TO, termios.FIONREAD, b"\0\0\0\0"), sys.byteorder
        )
    except OSError:
        return None


class ReadAheadError(RuntimeError):
    """The child process failed in a way that could not be sent back as it was."""


def ahead(produce: Callable[[], Iterable[T]]) -> Iterator[T]:
    """The items of `produce()`, produced in a child process when that is safe (see above);
    the child is forked on the first `next()`."""
    started = Ahead(produce)
    try:
        yield from started
    finally:
        started.close()


class Ahead(Iterator[T]):
    """`ahead(produce)` with the child forked at once, so that it works while the caller
    does something else before it takes the first item (`dgarchive reindex` imports the
    store and checks the schema meanwhile). `close()` (always, in a `finally`) ends the
    child if the caller stops early and waits for it."""

    def __init__(self, produce: Callable[[], Iterable[T]]) -> None:
        self._pid: int | None = None
        self._inp: BinaryIO | None = None
        if not hasattr(os, "fork") or threading.active_count() > 1:
            self._items: Iterator[T] = iter(produce())
            return
        read_fd, write_fd = os.pipe()
        _widen(write_fd)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; its work is checked through the parent
            global _SENDING_TO
            os.close(read_fd)
            _SENDING_TO = write_fd
            code = 1
            try:
                with os.fdopen(write_fd, "wb", buffering=_BUFFER) as out:
                    _send(produce, out)
                code = 0
            finally:
                os._exit(code)  # never the parent's cleanup, atexit handlers or buffers
        os.close(write_fd)
        self._pid = pid
        self._inp = os.fdopen(read_fd, "rb", buffering=_BUFFER)
        self._items = _receive(self._inp)

    def __next__(self) -> T:
        return next(self._items)

    def close(self) -> None:
        # A consumer that stops early closes the pipe: the child's next write fails and it
        # exits, so waiting here does not block.
        if self._inp is not None:
            self._inp.close()
            self._inp = None
        if self._pid is not None:
            os.waitpid(self._pid, 0)
            self._pid = None


def _receive(inp: BinaryIO) -> Iterator[T]:
    while True:
        try:
            kind, value = pickle.load(inp)
        except EOFError:
            raise ReadAheadError("the reading process ended without a result") from None
        if kind == "items":
            yield from value
        elif kind == "raise":
            raise value
        elif kind == "crash":
            raise ReadAheadError(value)
        else:
            return


def _widen(fd: int) -> None:
    """A pipe of PIPE_SIZE bytes where the system allows it (Linux; 64 KiB by default).

    With the default the child blocks after four or so pages until the parent reads again,
    and the two processes take turns instead of running side by side.
    """
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setsize is None:
        return
    try:
        fcntl.fcntl(fd, setsize, PIPE_SIZE)
    except OSError:
        pass  # above the system's pipe-max-size: the default size works, only slower


def _send(produce: Callable[[], Iterable[T]], out: BinaryIO) -> None:  # pragma: no cover
    batch: list[T] = []
    try:
        for item in produce():
            batch.append(item)
            if len(batch) >= BATCH:
                pickle.dump(("items", batch), out, pickle.HIGHEST_PROTOCOL)
                # Each message into the pipe at once: held in the buffer, it would keep a
                # waiting consumer waiting, and `backlog` would not count it.
                out.flush()
                batch = []
    except BrokenPipeError:
        raise  # the consumer went away: nothing to tell it
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which raises it
        if batch:
            pickle.dump(("items", batch), out, pickle.HIGHEST_PROTOCOL)
        try:
            message = pickle.dumps(("raise", exc), pickle.HIGHEST_PROTOCOL)
            pickle.loads(message)  # an exception that cannot be rebuilt goes as text
        except Exception:  # noqa: BLE001
            message = pickle.dumps(("crash", traceback.format_exc()), pickle.HIGHEST_PROTOCOL)
        out.write(message)
        return
    if batch:
        pickle.dump(("items", batch), out, pickle.HIGHEST_PROTOCOL)
    pickle.dump(("end", None), out, pickle.HIGHEST_PROTOCOL)
