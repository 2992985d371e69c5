"""compose.yaml as the Compose implementations read it: `config` resolves and validates the
file without starting anything (so no postgres:15 pull). Debian ships docker-compose 1.29;
Compose v2 (`docker compose`) is checked too wherever its plugin is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.container.conftest import DOCKER

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.container


def implementations() -> list[list[str]]:
    found = []
    if shutil.which("docker-compose"):
        found.append(["docker-compose"])
    v2 = subprocess.run([DOCKER, "compose", "version"], capture_output=True, text=True)
    if v2.returncode == 0:
        found.append([DOCKER, "compose"])
    return found


@pytest.fixture(params=["docker-compose", "docker compose"])
def compose_cmd(request, image) -> list[str]:
    wanted = request.param.split()
    for cmd in implementations():
        if cmd[-len(wanted) :] == wanted:
            return cmd
    if request.param == "docker-compose" and os.environ.get("CI"):
        pytest.fail("docker-compose is missing: .ci/run installs it")
    pytest.skip(f"{request.param} is not installed here")


def config(cmd: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "DGARCHIVE_"))}
    return subprocess.run(
        [*cmd, "--file", str(REPO / "compose.yaml"), "--project-name", "dgarchive", "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
        cwd=REPO,
    )


def test_compose_config_resolves(compose_cmd):
    proc = config(compose_cmd, POSTGRES_PASSWORD="s3cret", DGARCHIVE_INTERVAL="3600")
    assert proc.returncode == 0, proc.stderr
    resolved = yaml.safe_load(proc.stdout)
    crawler = resolved["services"]["crawler"]
    assert crawler["environment"]["DGARCHIVE_DB"] == (
        "postgresql://dgarchive:s3cret@postgres:5432/dgarchive"
    )
    assert str(crawler["environment"]["DGARCHIVE_INTERVAL"]) == "3600"
    assert crawler["depends_on"]["postgres"]["condition"] == "service_healthy"
    # The crawler uses PostgreSQL: only the archive is mounted, and the image declares no
    # /data/db volume that would be created for nothing.
    assert [str(v) for v in crawler["volumes"]] and all(
        "/data/archive" in str(v) for v in crawler["volumes"]
    ), crawler["volumes"]
    assert set(resolved["volumes"]) >= {"archive", "pgdata"}


def test_compose_config_refuses_a_missing_password(compose_cmd):
    proc = config(compose_cmd)
    assert proc.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in proc.stderr, proc.stderr
