"""The built image on its own: entry point, user, read-only root, what it leaves out, size."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.container.conftest import UID, docker

pytestmark = pytest.mark.container

SUBCOMMANDS = ("crawl", "extract", "export", "reindex", "db", "serve", "replay", "index", "wacz")


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
    # The goal of issue 14. The image holds the crawler, the distributed crawl's Redis client
    # and Datasette (serve); pywb (replay) is the separate `replay` target, 50 MB more.
    assert size < 250e6, f"{size / 1e6:.0f} MB"


def test_the_replay_target_adds_pywb_in_its_own_environment(image):
    # The default image has no pywb: `dgarchive replay` says how to get it.
    proc = docker("run", "--rm", image, "replay", check=False)
    assert proc.returncode == 2 and "pywb" in proc.stderr, proc.stderr

    replay = os.environ.get("DGARCHIVE_REPLAY_IMAGE")
    if not replay:
        pytest.skip("the replay image is built by `make image-test` (DGARCHIVE_REPLAY_IMAGE)")
    [config] = json.loads(docker("image", "inspect", replay).stdout)
    env = dict(e.split("=", 1) for e in config["Config"]["Env"])
    assert env["DGARCHIVE_PYWB_PYTHON"] == "/opt/pywb/bin/python"
    assert config["Config"]["User"] == f"{UID}:{UID}"
    # pywb's redis pin and scrapy-redis's each keep their own: two environments.
    probe = "import importlib.metadata as m; print(m.version('redis'))"
    mine = docker("run", "--rm", "--entrypoint", "python", replay, "-c", probe).stdout
    pywbs = docker("run", "--rm", "--entrypoint", "/opt/pywb/bin/python", replay, "-c",
                   probe + "; import pywb").stdout  # fmt: skip
    assert int(mine.split(".")[0]) >= 5 and int(pywbs.split(".")[0]) < 5, (mine, pywbs)
    size = int(docker("image", "inspect", "--format", "{{.Size}}", replay).stdout)
    print(f"\nimage {replay}: {size / 1e6:.0f} MB")
