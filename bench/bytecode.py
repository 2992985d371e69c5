"""Byte-compile a checkout's packages before a benchmark times processes that import them.

An installed dgarchive has its bytecode: pip compiles a regular install, the Dockerfile
compiles the image's, and an editable install writes `__pycache__` on its first run. A
machine that sets PYTHONDONTWRITEBYTECODE (this project's CI and sandboxes do) never writes
it for a checkout, so every process compiles every module it imports again: 0.1-0.2 CPU-s
for `dgarchive reindex`'s two processes, none of it for the third-party packages it is
compared with (compiled by pip). bench_extract and bench_startup drop the variable and let
an untimed run write the caches; `compile_tree` writes them up front, for every tree a
benchmark times (git ignores `__pycache__`).
"""

from __future__ import annotations

import compileall
from pathlib import Path

PACKAGES = ("crawler", "pipelines", "migrations")


def compile_tree(root: str | Path) -> None:
    """Write the bytecode of `root`'s packages where it is missing or stale."""
    for name in PACKAGES:
        path = Path(root) / name
        if path.is_dir() and not compileall.compile_dir(path, quiet=1):
            raise SystemExit(f"cannot byte-compile {path}")
