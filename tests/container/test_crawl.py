"""Crawls of the mirror from the image: named volumes, their ownership, incremental runs,
`docker stop`, and PostgreSQL. The mirror and PostgreSQL run on the host and the container
shares the host's network (`--network host`), so their 127.0.0.1 URLs work unchanged."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.container.conftest import UID, docker
from tests.e2e import MIRROR_SETTINGS, dgarchive, warc_files
from tests.mocksite import MockSite
from tests.timing import budget

pytestmark = pytest.mark.container

# Docker's default: `docker stop` sends SIGKILL this many seconds after SIGTERM.
DOCKER_STOP_TIMEOUT = 10


@pytest.fixture
def site():
    s = MockSite(articles=30, per_page=10)
    s.start()
    yield s
    s.stop()


def crawl_args(image: str, site: MockSite, archive: str, db: str | None, *extra: str) -> list[str]:
    """`docker run` arguments for a mirror crawl: read-only root, /tmp on tmpfs, volumes."""
    mounts = ["-v", f"{archive}:/data/archive"] + (["-v", f"{db}:/data/db"] if db else [])
    return [
        "--network", "host", "--read-only", "--tmpfs", "/tmp", *mounts, image,
        "crawl", "--town", "houjie", "--site-root", site.url, *MIRROR_SETTINGS, *extra,
    ]  # fmt: skip


def article_paths(site: MockSite) -> set[str]:
    return {p for _m, p, _h in site.requests_log if "/content/post_" in p}


def owners(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_uid for p in root.rglob("*")}


def check_warcs(archive: Path) -> int:
    """Read every record with digest checks; the number of response records."""
    responses = 0
    for path in warc_files(archive):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, check_digests=True):
                rec.content_stream().read()
                responses += rec.rec_type == "response"
    return responses


def test_crawl_into_named_volumes_then_an_incremental_one(image, site, volume):
    archive, archive_dir = volume("archive")
    db, db_dir = volume("db")
    report = "/data/archive/first.json"
    first = docker("run", "--rm", *crawl_args(image, site, archive, db, "--report", report))
    assert first.returncode == 0

    warcs = warc_files(archive_dir)
    assert warcs and not list(archive_dir.glob("*.open"))
    assert check_warcs(archive_dir) >= len(site.article_urls())
    database = db_dir / "dgarchive.sqlite"
    with sqlite3.connect(database) as conn:
        stored = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert stored == len(site.article_urls())
    # Docker gave the new volumes the image's ownership of /data/archive and /data/db.
    for root in (archive_dir, db_dir):
        assert root.stat().st_uid == UID
        assert set(owners(root).values()) == {UID}, owners(root)
    assert json.loads((archive_dir / "first.json").read_text())["new_articles"] == stored

    new_urls = site.add_articles(2)
    site.reset_log()
    second = docker(
        "run", "--rm",
        *crawl_args(image, site, archive, db, "--report", "/data/archive/second.json"),
    )  # fmt: skip
    assert second.returncode == 0
    assert article_paths(site) == {urlsplit(u).path for u in new_urls}
    assert json.loads((archive_dir / "second.json").read_text())["new_articles"] == 2
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == stored + 2


def test_docker_stop_during_a_crawl_exits_130_and_closes_the_archive(
    image, site, volume, container_name
):
    archive, archive_dir = volume("archive")
    db, db_dir = volume("db")
    docker(
        "run", "--detach", "--name", container_name,
        *crawl_args(image, site, archive, db, "-s", "DOWNLOAD_DELAY=0.5"),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not article_paths(site):
        state = docker("inspect", "--format", "{{.State.Status}}", container_name).stdout
        assert state.strip() == "running", docker("logs", container_name).stderr[-3000:]
        assert time.monotonic() < deadline, "the crawl fetched no article in 60 s"
        time.sleep(0.2)
    fetched = len(article_paths(site))
    assert fetched < len(site.article_urls()), "the crawl ended before it could be stopped"

    started = time.monotonic()
    docker("stop", container_name, timeout=DOCKER_STOP_TIMEOUT + 30)  # the default timeout
    took = time.monotonic() - started
    code = int(docker("inspect", "--format", "{{.State.ExitCode}}", container_name).stdout)
    log = docker("logs", container_name).stderr
    print(f"\ndocker stop took {took:.1f} s, exit {code}")
    assert code == 130, f"exit {code} after {took:.1f} s (137: SIGKILL)\n{log[-3000:]}"
    assert took < DOCKER_STOP_TIMEOUT

    assert warc_files(archive_dir) and not list(archive_dir.glob("*.open"))
    check_warcs(archive_dir)
    database = db_dir / "dgarchive.sqlite"
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert 0 < stored < len(site.article_urls())

    # Consistent enough to go on: the next run fetches only the rest and ends clean.
    site.reset_log()
    docker("rm", container_name)
    docker("run", "--rm", *crawl_args(image, site, archive, db))
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == len(
            site.article_urls()
        )
    assert len(article_paths(site)) <= len(site.article_urls()) - stored


def test_docker_stop_of_an_idle_crawl_is_graceful_within_two_seconds(
    image, site, volume, container_name
):
    """Idle: between two requests of a polite crawl (a long delay), nothing in flight. The
    stop then needs no download to end: exit 130 well inside Docker's 10 s, a promised 2 s
    (scaled by the machine's load, tests/timing.py)."""
    archive, archive_dir = volume("archive")
    db, _db_dir = volume("db")
    docker(
        "run", "--detach", "--name", container_name,
        *crawl_args(image, site, archive, db, "-s", "DOWNLOAD_DELAY=30"),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not site.requests_log:  # robots.txt; the next request waits for the 30 s delay
        assert time.monotonic() < deadline, "the crawl made no request in 60 s"
        time.sleep(0.2)
    time.sleep(1.0)
    started = time.monotonic()
    docker("stop", container_name, timeout=DOCKER_STOP_TIMEOUT + 30)
    took = time.monotonic() - started
    code = int(docker("inspect", "--format", "{{.State.ExitCode}}", container_name).stdout)
    print(f"\nidle docker stop took {took:.1f} s, exit {code}")
    assert code == 130, docker("logs", container_name).stderr[-3000:]
    assert took < budget(2.0), f"idle stop took {took:.1f} s"
    assert warc_files(archive_dir) and not list(archive_dir.glob("*.open"))
    check_warcs(archive_dir)


@pytest.mark.postgres
def test_crawl_against_postgresql_on_the_host(image, site, volume, pg_database_url):
    archive, archive_dir = volume("archive")
    docker(
        "run", "--rm", "-e", f"DGARCHIVE_DB={pg_database_url}",
        *crawl_args(image, site, archive, None),
    )  # fmt: skip
    assert warc_files(archive_dir) and not list(archive_dir.glob("*.open"))
    assert set(owners(archive_dir).values()) == {UID}

    export = dgarchive("export", "--db", pg_database_url)
    assert export.returncode == 0, export.stderr[-2000:]
    urls = {json.loads(line)["url"] for line in export.stdout.splitlines()}
    assert urls == set(site.article_urls())
