"""The built image on its own: entry point, user, read-only root, what it leaves out, size."""

from __future__ import annotations

import json
import re

import pytest

from tests.container.conftest import UID, docker

pytestmark = pytest.mark.container

SUBCOMMANDS = ("crawl", "extract", "export", "reindex", "db")


def test_help_and_version(image):
    help_ = docker("run", "--rm", image, "--help")
    for name in SUBCOMMANDS:
        assert re.search(rf"^\s+{name}\b", help_.stdout, re.M), (name, help_.stdout)
    version = docker("run", "--rm", image, "--version")
    assert re.fullmatch(r"dgarchive \d+\.\d+\.\d+\S*\n", version.stdout), version.stdout


def test_runs_as_uid_10001_not_root(image):
    [config] = json.loads(docker("image", "inspect", image).stdout)
    assert config["Config"]["User"] == f"{UID}:{UID}"
    ids = docker("run", "--rm", "--entrypoint", "id", image).stdout.split()
    assert ids[:2] == [f"uid={UID}(dgarchive)", f"gid={UID}(dgarchive)"], ids


def test_declares_only_the_archive_volume(image):
    # A PostgreSQL deployment has no use for /data/db: declaring it would give every
    # container an anonymous volume it never writes.
    [config] = json.loads(docker("image", "inspect", image).stdout)
    assert set(config["Config"]["Volumes"] or {}) == {"/data/archive"}


def test_read_only_root_really_refuses_writes(image):
    # The crawl tests run with --read-only; this shows the flag is in force, so their exit 0
    # proves the crawler writes nothing outside the volumes and /tmp.
    proc = docker(
        "run", "--rm", "--read-only", "--tmpfs", "/tmp", "--entrypoint", "sh", image, "-c",
        "touch /tmp/ok && if touch /home/dgarchive/x 2>/dev/null; then echo wrote; fi",
    )  # fmt: skip
    assert proc.stdout == "", proc.stdout


def test_no_pip_or_setuptools_and_size_is_reported(image):
    proc = docker(
        "run", "--rm", "--entrypoint", "python", image, "-c",
        "import importlib.util as u, sys; "
        "print(sys.prefix, [m for m in ('pip', 'setuptools') if u.find_spec(m)])",
    )  # fmt: skip
    assert proc.stdout.split(" ", 1) == ["/opt/venv", "[]\n"], proc.stdout

    size = int(docker("image", "inspect", "--format", "{{.Size}}", image).stdout)
    venv = docker("run", "--rm", "--entrypoint", "du", image, "-sm", "/opt/venv").stdout.split()[0]
    print(f"\nimage {image}: {size / 1e6:.0f} MB, /opt/venv {venv} MB")
    # A guard against regressions, not the goal: the goal is < 250 MB, and the image is 263 MB
    # since the crawl gained its index, requisite and distributed dependencies (Scrapy's own
    # aiohttp is 12 MB of it). The size printed above is what to compare.
    assert size < 280e6, f"{size / 1e6:.0f} MB"
