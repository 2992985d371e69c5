"""Fixtures for the container tests: the Docker client, the image under test, and named
volumes that are removed afterwards.

The image is built by `make image-test`, which names it in $DGARCHIVE_IMAGE. Without that
variable (a plain `make test` or pytest run) every test here is skipped at once, so the normal
suite does not pay for a Docker build; with it but no engine answering, they are skipped with
the engine's own error.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Debian's client: a newer one elsewhere on the PATH may lack the builder it expects.
DOCKER = os.environ.get("DOCKER") or (
    "/usr/bin/docker" if Path("/usr/bin/docker").exists() else shutil.which("docker") or "docker"
)
UID = 10001


def docker(*args: str, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [DOCKER, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args)} exited {proc.returncode}\n{proc.stdout[-2000:]}"
            f"{proc.stderr[-4000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def image() -> str:
    name = os.environ.get("DGARCHIVE_IMAGE")
    if not name:
        pytest.skip(
            "container tests run through `make image-test` (it builds the image and sets DGARCHIVE_IMAGE)"
        )
    try:
        info = docker("info", "--format", "{{.ServerVersion}}", timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"no Docker engine: {exc}")
    if info.returncode != 0:
        pytest.skip(f"no Docker engine: {info.stderr.strip()[-500:]}")
    # The engine answers, so the image must be there: make image-test built it.
    docker("image", "inspect", name, timeout=30)
    return name


def new_volume(purpose: str) -> tuple[str, Path]:
    """(name, host path) of a new named volume."""
    name = f"dgarchive-test-{purpose}-{uuid.uuid4().hex[:10]}"
    docker("volume", "create", name, timeout=30)
    [info] = json.loads(docker("volume", "inspect", name, timeout=30).stdout)
    return name, Path(info["Mountpoint"])


@contextlib.contextmanager
def run_and_remove_volumes(*purposes: str) -> Iterator[list[str]]:
    """Named volumes for a block (a module-scoped fixture), removed after it."""
    names: list[str] = []
    try:
        names.extend(new_volume(p)[0] for p in purposes)
        yield names
    finally:
        for name in names:
            docker("volume", "rm", "--force", name, timeout=60, check=False)


@pytest.fixture
def volume() -> Iterator[Callable[[str], tuple[str, Path]]]:
    """make(purpose) -> (name, host path): a new named volume, removed after the test."""
    made: list[str] = []

    def make(purpose: str) -> tuple[str, Path]:
        name, path = new_volume(purpose)
        made.append(name)
        return name, path

    yield make
    for name in made:
        docker("volume", "rm", "--force", name, timeout=60, check=False)


@pytest.fixture
def container_name() -> Iterator[str]:
    """A name for a detached container, force-removed after the test."""
    name = f"dgarchive-test-{uuid.uuid4().hex[:10]}"
    yield name
    docker("rm", "--force", name, timeout=60, check=False)
