"""Replay WARC files with pywb as a real server, for tests: `with pywb_server(paths, tmp) as base`.

`base` is the collection's URL, `http://127.0.0.1:PORT/coll/`: fetch
`f"{base}{timestamp14}id_/{url}"` for the archived response without rewriting.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

# pywb lives in a virtual environment of its own (`make install` makes `.venv-pywb`; see
# crawler.cli.archive.pywb_python): its redis pin cannot share one with scrapy-redis.
BIN = Path(os.environ.get("DGARCHIVE_PYWB_PYTHON") or sys.executable).parent
COLLECTION = "coll"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str], cwd: Path) -> None:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")


@contextlib.contextmanager
def pywb_server(
    warc_paths: Iterable[str | os.PathLike], tmp_dir: str | os.PathLike, timeout: float = 30
) -> Iterator[str]:
    """Index `warc_paths` into a fresh pywb collection under `tmp_dir` and serve it.

    Yields the collection's base URL once the server answers; stops the server's whole
    process group on exit.
    """
    root = Path(tmp_dir) / "pywb"
    root.mkdir(parents=True, exist_ok=True)
    paths = [str(Path(p).resolve()) for p in warc_paths]
    if not paths:
        raise ValueError("pywb_server needs at least one WARC file")
    if not (root / "collections" / COLLECTION).exists():
        _run([str(BIN / "wb-manager"), "init", COLLECTION], root)
    _run([str(BIN / "wb-manager"), "add", COLLECTION, *paths], root)

    port = _free_port()
    log = open(root / f"wayback-{port}.log", "wb")
    proc = subprocess.Popen(
        [str(BIN / "wayback"), "-b", "127.0.0.1", "-p", str(port)],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so all of it can be stopped
    )
    base = f"http://127.0.0.1:{port}/{COLLECTION}/"
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/", proc, timeout, root / f"wayback-{port}.log")
        yield base
    finally:
        _stop(proc)
        log.close()


def _wait_until_up(url: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pywb exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers, if not with 200
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"pywb did not answer on {url} within {timeout} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
