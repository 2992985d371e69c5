"""`dgarchive serve` (Datasette, in the default image) and `dgarchive replay` (pywb, in the
`replay` target's image) answering on their ports over what a containerised crawl archived.
Both share the host's network, so the test reaches them at 127.0.0.1 like any local client."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from tests.container.conftest import docker, run_and_remove_volumes
from tests.container.test_crawl import crawl_args
from tests.mocksite import MockSite
from tests.pg import free_port

pytestmark = pytest.mark.container


@pytest.fixture(scope="module")
def archived(image) -> Iterator[dict]:
    """One crawl of the mirror by the image into two named volumes, and its export."""
    site = MockSite(articles=12, per_page=10)
    site.start()
    with run_and_remove_volumes("archive", "db") as [archive, db]:
        try:
            docker("run", "--rm", *crawl_args(image, site, archive, db))
            export = docker(
                "run", "--rm", "--read-only", "-v", f"{archive}:/data/archive",
                "-v", f"{db}:/data/db", image, "export",
            )  # fmt: skip
            records = [json.loads(line) for line in export.stdout.splitlines()]
            assert len(records) == len(site.article_urls())
            yield {"archive": archive, "db": db, "records": records}
        finally:
            site.stop()


def wait_for(url: str, name: str, timeout: float = 120) -> bytes:
    """The body of the first successful GET of `url`, retried while the server starts."""
    deadline = time.monotonic() + timeout
    while True:
        state = docker("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
        assert state == "running", f"{state}\n{docker('logs', name).stderr[-3000:]}"
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return resp.read()
        except (urllib.error.URLError, ConnectionError) as exc:
            if isinstance(exc, urllib.error.HTTPError) and exc.code != 404:
                raise
            if time.monotonic() > deadline:
                logs = docker("logs", name)
                pytest.fail(f"{url} did not answer in {timeout} s\n{logs.stdout}{logs.stderr}")
            time.sleep(0.5)


def test_serve_answers_with_the_archived_articles(image, archived, container_name):
    port = free_port()
    docker(
        "run", "--detach", "--name", container_name, "--network", "host", "--read-only",
        "--tmpfs", "/tmp", "-v", f"{archived['db']}:/data/db", image,
        "serve", "--port", str(port),
    )  # fmt: skip
    query = urllib.parse.urlencode({"_shape": "array", "_size": "max", "_col": "url"})
    body = wait_for(f"http://127.0.0.1:{port}/dgarchive/articles.json?{query}", container_name)
    served = {row["url"] for row in json.loads(body)}
    assert served == {r["url"] for r in archived["records"]}


@pytest.fixture(scope="module")
def replay_image() -> str:
    name = os.environ.get("DGARCHIVE_REPLAY_IMAGE")
    if not name:
        pytest.skip("the replay image is built by `make image-test` (DGARCHIVE_REPLAY_IMAGE)")
    docker("image", "inspect", name, timeout=30)
    return name


def test_replay_answers_with_the_archived_page(replay_image, archived, container_name):
    port = free_port()
    docker(
        "run", "--detach", "--name", container_name, "--network", "host", "--read-only",
        "--tmpfs", "/tmp", "-v", f"{archived['archive']}:/data/archive", replay_image,
        "replay", "--port", str(port),
    )  # fmt: skip
    record = archived["records"][0]
    assert record["replay_url"], record
    body = wait_for(f"http://127.0.0.1:{port}{record['replay_url']}", container_name)
    page = body.decode("utf-8", "replace")
    assert record["title"] in page, page[:2000]
    # pywb's own banner: the page came through replay, not from anywhere else.
    assert "wombat" in page or "_wb_" in page, page[:2000]
