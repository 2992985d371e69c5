"""End to end: the `dgarchive` command's contract (README "Commands" and "Exit codes").

Every test runs the real command in a subprocess (tests.e2e.dgarchive): exit codes, one-line
errors without tracebacks or passwords, environment variables, help, and `extract` on saved
pages and on a WARC written by a real crawl of the mirror.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from tests.e2e import MIRROR_SETTINGS, REPO, Run, crawl_mirror, dgarchive, warc_files
from tests.mocksite import MockSite

pytestmark = pytest.mark.e2e

PAGES = REPO / "tests" / "fixtures" / "pages"
INTERVIEW = PAGES / "interview_004_server_hans"
COMMANDS = ["crawl", "export", "db upgrade"]
NEWER = "f00dfacade99"


# --------------------------------------------------------------------------- helpers


def one_line_error(run: Run, code: int) -> str:
    """The run failed with `code` and said why in exactly one line, no traceback, no output."""
    assert run.returncode == code, (run.returncode, run.stderr[-3000:])
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.stderr.endswith("\n") and run.stderr.count("\n") == 1, run.stderr[-3000:]
    assert run.stdout == "", run.stdout[:500]
    line = run.stderr.rstrip("\n")
    assert line.startswith("dgarchive"), line
    return line


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends


def command(name: str, db_url: str, archive: Path, site: MockSite) -> list[str]:
    """The argv of `name` (crawl, export, db upgrade) against `db_url`."""
    if name == "crawl":
        return [
            "crawl",
            "--town",
            "houjie",
            "--site-root",
            site.url,
            "--archive",
            str(archive),
            "--db",
            db_url,
            *MIRROR_SETTINGS,
        ]
    return [*name.split(), "--db", db_url]


def assert_untouched(site: MockSite, archive: Path) -> None:
    """A crawl refused before it started: no request to the site, no WARC in the archive."""
    assert site.requests_log == [], [p for _, p, _ in site.requests_log]
    assert not archive.exists() or warc_files(archive) == []


def expected_articles(site: MockSite) -> list[str]:
    """Every article the crawl may reach: all of them but the robots-disallowed one."""
    return sorted(u for u in site.article_urls() if u != site.private_url)


def jsonl(text: str) -> list[dict]:
    assert text.endswith("\n"), text[-200:]
    return [json.loads(line) for line in text.splitlines()]


def readme_section(heading: str) -> str:
    """The README's text under `heading` (e.g. "## Commands"), up to the next heading."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.split(r"^#", text.split(f"\n{heading}\n", 1)[1], maxsplit=1, flags=re.M)[0]


def readme_exit_codes() -> list[str]:
    rows = re.findall(r"^\| (\d+) \|", readme_section("### Exit codes"), flags=re.M)
    assert len(rows) >= 8, rows
    return rows


# --------------------------------------------------------------------------- fixtures


def run_all(argvs: dict, runner=dgarchive) -> dict:
    """Run several commands at once (each is mostly start-up time); their Runs by key."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {key: pool.submit(runner, *argv) for key, argv in argvs.items()}
        return {key: future.result() for key, future in futures.items()}


@pytest.fixture(scope="module")
def site(module_mirror):
    return module_mirror(articles=12, per_page=5)


@pytest.fixture(scope="module")
def mirror_crawl(site, tmp_path_factory):
    """One real crawl of the mirror, shared by the tests that read what it wrote."""
    tmp = tmp_path_factory.mktemp("cli-crawl")
    archive = tmp / "archive"
    run = crawl_mirror(site.url, archive, f"sqlite:///{tmp / 'db.sqlite'}")
    assert run.returncode == 0, run.stderr[-3000:]
    return {"archive": archive, "warcs": warc_files(archive)}


@pytest.fixture(scope="module")
def idle_site():
    """A mirror that must not be asked for anything (each test checks its log is empty)."""
    with MockSite(articles=3) as s:
        yield s


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory):
    """`dgarchive db upgrade` of a new SQLite file in a directory that does not exist yet."""
    path = tmp_path_factory.mktemp("cli-upgrade") / "new" / "dir" / "db.sqlite"
    return dgarchive("db", "upgrade", "--db", f"sqlite:///{path}"), path


def migrated_copy(upgraded, dest: Path) -> str:
    """A copy of the freshly upgraded SQLite file at `dest`; its URL."""
    run, path = upgraded
    assert run.returncode == 0, run.stderr
    assert not path.with_name(path.name + "-wal").exists()  # the copy is the whole database
    shutil.copyfile(path, dest)
    return f"sqlite:///{dest}"


@pytest.fixture(scope="module")
def as_nobody():
    """A runner of `dgarchive ARGS` in a process that file permissions apply to (root ignores
    them): as user nobody through setpriv, the way tests/test_database.py checks read-only
    SQLite. Not root: the command runs as the current user."""
    if os.geteuid() != 0:
        return dgarchive
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot drop privileges to nobody")
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGARCHIVE_")}
    env["PYTHONPATH"] = str(REPO)

    def run(*args: str) -> Run:
        proc = subprocess.run(
            [*drop, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    probe = run("-c", "import crawler.cli, pipelines.database")
    if probe.returncode != 0:
        pytest.skip(f"user nobody cannot run {sys.executable}: {probe.stderr.strip()[-300:]}")
    return lambda *args: run("-m", "crawler.cli", *args)


@pytest.fixture(scope="module")
def world_readable_dir():
    """A directory outside pytest's private tmp (mode 700), so `nobody` can reach it."""
    path = Path(tempfile.mkdtemp(prefix="dgarchive-cli-ro-"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        p.chmod(0o777 if p.is_dir() else 0o644)
    shutil.rmtree(path)


# --------------------------------------------------------------------------- database errors


@pytest.fixture(scope="module")
def unreachable(idle_site, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli-unreachable")
    port = closed_port()
    url = f"postgresql://u:secret@127.0.0.1:{port}/x"
    runs = run_all({n: command(n, url, tmp / "archive", idle_site) for n in COMMANDS})
    return runs, port, tmp / "archive"


@pytest.mark.parametrize("name", COMMANDS)
def test_unreachable_database_is_exit_5_in_one_line_without_the_password(
    name, unreachable, idle_site
):
    runs, port, archive = unreachable
    line = one_line_error(runs[name], 5)
    assert "unreachable" in line
    assert f"postgresql://u@127.0.0.1:{port}/x" in line  # named, so the operator can act
    assert "secret" not in runs[name].stderr + runs[name].stdout
    assert_untouched(idle_site, archive)


BAD_URLS = ["not a url", "mysql+nodriver://u:secret@x/y"]


@pytest.fixture(scope="module")
def malformed(idle_site, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli-malformed")
    argvs = {(n, u): command(n, u, tmp / "archive", idle_site) for n in COMMANDS for u in BAD_URLS}
    return run_all(argvs), tmp / "archive"


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("name", COMMANDS)
def test_malformed_database_url_is_a_usage_error(name, url, malformed, idle_site):
    runs, archive = malformed
    line = one_line_error(runs[name, url], 2)
    assert "database URL" in line
    assert "secret" not in runs[name, url].stderr
    assert_untouched(idle_site, archive)


@pytest.fixture(scope="module")
def read_only(upgraded, as_nobody, world_readable_dir, idle_site):
    """The three commands, as nobody, on a 444 SQLite file in a 555 directory."""
    db_file = world_readable_dir / "db.sqlite"
    url = migrated_copy(upgraded, db_file)
    archive = world_readable_dir / "archive"  # writable by all: only the database is not
    archive.mkdir()
    archive.chmod(0o777)
    db_file.chmod(0o444)
    world_readable_dir.chmod(0o555)
    runs = run_all({n: command(n, url, archive, idle_site) for n in COMMANDS}, as_nobody)
    return runs, url, archive


@pytest.mark.parametrize("name", COMMANDS)
def test_read_only_sqlite_file_fails_in_one_line(name, read_only, idle_site):
    runs, url, archive = read_only
    line = one_line_error(runs[name], 5)
    assert "read-only" in line and url in line
    assert_untouched(idle_site, archive)


@pytest.fixture(scope="module")
def newer_schema(upgraded, idle_site, tmp_path_factory):
    """The three commands on a SQLite database that a newer dgarchive migrated."""
    tmp = tmp_path_factory.mktemp("cli-newer")
    url = migrated_copy(upgraded, tmp / "newer.sqlite")
    with closing(sqlite3.connect(tmp / "newer.sqlite")) as conn, conn:
        conn.execute(f"UPDATE alembic_version SET version_num = '{NEWER}'")
    runs = run_all({n: command(n, url, tmp / "archive", idle_site) for n in COMMANDS})
    return runs, tmp / "newer.sqlite", tmp / "archive"


@pytest.mark.parametrize("name", COMMANDS)
def test_schema_newer_than_the_code_is_exit_5_and_nothing_is_touched(name, newer_schema, idle_site):
    runs, path, archive = newer_schema
    line = one_line_error(runs[name], 5)
    assert "schema is newer" in line and NEWER in line, line
    assert_untouched(idle_site, archive)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(NEWER,)]


# --------------------------------------------------------------------------- db upgrade


def test_db_upgrade_creates_a_new_sqlite_file_at_head(upgraded):
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    from pipelines.store import schema_state

    run, path = upgraded
    assert run.returncode == 0, run.stderr
    assert path.is_file()
    heads = set(ScriptDirectory(str(REPO / "migrations")).get_heads())
    with closing(sqlite3.connect(path)) as conn:
        assert {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")} == heads
    engine = create_engine(f"sqlite:///{path}")
    try:
        assert schema_state(engine) == "current"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_db_upgrade_on_postgres_reaches_head(pg_database_url):
    from pipelines.store import make_engine, schema_state

    run = dgarchive("db", "upgrade", "--db", pg_database_url)
    assert run.returncode == 0, run.stderr
    engine = make_engine(pg_database_url)
    try:
        assert schema_state(engine) == "current"
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- usage


def test_help_names_every_command_and_the_exit_codes():
    run = dgarchive("--help")
    assert (run.returncode, run.stderr) == (0, ""), run.stderr
    commands = re.findall(r"^\| `dgarchive ([a-z-]+)", readme_section("## Commands"), flags=re.M)
    assert set(commands) >= {"crawl", "extract", "export", "reindex", "db"}, commands
    for name in commands:
        assert re.search(rf"^\s+{name}\s", run.stdout, flags=re.M), name
    for code in readme_exit_codes():
        assert re.search(rf"^\s+{code}\s+\w", run.stdout, flags=re.M), code


def test_crawl_help_names_every_option_of_the_contract_and_the_exit_codes():
    run = dgarchive("crawl", "--help")
    assert (run.returncode, run.stderr) == (0, ""), run.stderr
    row = next(
        line for line in readme_section("## Commands").splitlines() if "`dgarchive crawl" in line
    )
    options = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", row))
    assert options >= {"--town", "--column", "--site-root", "--archive", "--db", "--report", "-s"}
    for option in options:
        assert re.search(rf"(?<![\w-]){re.escape(option)}[ ,\n]", run.stdout), option
    for code in readme_exit_codes():
        assert re.search(rf"^\s+{code}\s+\w", run.stdout, flags=re.M), code


def test_no_command_is_a_usage_error():
    run = dgarchive()
    assert run.returncode == 2
    assert "Traceback" not in run.stderr + run.stdout
    assert "usage: dgarchive" in run.stderr + run.stdout


@pytest.mark.parametrize("argv", [["frobnicate"], ["db"], ["db", "frobnicate"]])
def test_unknown_command_is_one_line_exit_2(argv):
    one_line_error(dgarchive(*argv), 2)


# --------------------------------------------------------------------------- extract


def test_extract_prints_an_interview_page_as_one_json_object():
    meta = json.loads((INTERVIEW / "meta.json").read_text(encoding="utf-8"))
    run = dgarchive("extract", str(INTERVIEW / "input.html"), "--url", meta["url"])
    assert (run.returncode, run.stderr) == (0, ""), run.stderr
    assert run.stdout.count("\n") == 1
    [record] = jsonl(run.stdout)
    assert record["url"] == meta["url"]
    assert record["interview"]["turns"], record["interview"]
    expected = json.loads((INTERVIEW / "expected.json").read_text(encoding="utf-8"))
    assert record == expected
    # ensure_ascii=False: Chinese is printed as is, not as \uXXXX escapes
    assert "寮厦" in run.stdout and "\\u" not in run.stdout


def test_extract_an_empty_file_is_one_line_exit_1(tmp_path):
    (tmp_path / "empty.html").write_bytes(b"")
    line = one_line_error(dgarchive("extract", str(tmp_path / "empty.html")), 1)
    assert "empty" in line


def test_extract_a_missing_file_is_one_line_exit_1(tmp_path):
    line = one_line_error(dgarchive("extract", str(tmp_path / "missing.html")), 1)
    assert "missing.html" in line and "no such file" in line


def test_extract_a_crawled_warc_prints_one_line_per_article(site, mirror_crawl):
    assert mirror_crawl["warcs"], "the crawl wrote no WARC file"
    records = []
    for warc in mirror_crawl["warcs"]:
        run = dgarchive("extract", str(warc))
        assert (run.returncode, run.stderr) == (0, ""), run.stderr[-3000:]
        for record in jsonl(run.stdout):
            assert record["capture"]["warc_filename"] == warc.name
            records.append(record)
    assert sorted(r["url"] for r in records) == expected_articles(site)
    for record in records:
        capture = record["capture"]
        assert isinstance(capture, dict)
        assert re.fullmatch(r"<urn:uuid:[0-9a-f-]{36}>", capture["warc_record_id"]), capture
        assert capture["status"] == 200 and record["title"], record["url"]
    assert len({r["capture"]["warc_record_id"] for r in records}) == len(records)


# --------------------------------------------------------------------------- environment


def test_environment_variables_set_the_database_and_the_archive(site, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    archive = tmp_path / "env-archive"
    env = {
        "DGARCHIVE_DB": f"sqlite:///{tmp_path / 'env.sqlite'}",
        "DGARCHIVE_ARCHIVE": str(archive),
    }
    run = dgarchive(
        "crawl", "--town", "houjie", "--site-root", site.url, *MIRROR_SETTINGS, cwd=cwd, env=env
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert warc_files(archive), list(archive.iterdir()) if archive.exists() else "no archive"
    assert (tmp_path / "env.sqlite").is_file()
    assert sorted(p.name for p in cwd.iterdir()) == []  # not ./archive nor ./dgarchive.sqlite

    export = dgarchive("export", cwd=cwd, env=env)
    assert (export.returncode, export.stderr) == (0, ""), export.stderr
    exported = jsonl(export.stdout)
    assert sorted(r["url"] for r in exported) == expected_articles(site)
    warcs = {p.name for p in warc_files(archive)}
    assert {r["capture"]["warc_filename"] for r in exported} <= warcs
    # without the variables, export looks in the working directory, finds nothing, makes nothing
    one_line_error(dgarchive("export", cwd=cwd), 5)
    assert list(cwd.iterdir()) == []
