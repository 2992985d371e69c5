"""The read API (issue 12): `dgarchive serve` (a real Datasette on a free port, over a
database filled by real mirror crawls) and `dgarchive db grant-reader` on a real PostgreSQL.

Every expected row comes from the database itself through a different query (or from
`export`), never from the SQL the metadata carries.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.e2e import REPO, _env, crawl_mirror, dgarchive
from tests.pg import free_port

pytest.importorskip("datasette", reason="the `serve` extra (datasette) is not installed")

DB_NAME = "dgarchive"  # Datasette names a database after its file


@pytest.fixture(scope="module")
def served(module_mirror, tmp_path_factory):
    """Two crawls of the mirror (one article changed in between), served by `dgarchive
    serve` on a free port. Yields (base URL, sqlite3 path, details)."""
    site = module_mirror(articles=40, per_page=10)
    tmp = tmp_path_factory.mktemp("readapi")
    path = tmp / f"{DB_NAME}.sqlite"
    db = f"sqlite:///{path}"
    first = crawl_mirror(site.url, tmp / "archive", db)
    assert first.returncode == 0, first.stderr[-3000:]
    between = after_captures(path)
    changed = site.article_urls()[3]
    site.change_article(changed)
    second = crawl_mirror(site.url, tmp / "archive", db, "--revisit-older-than", "0")
    assert second.returncode == 0, second.stderr[-3000:]
    export = dgarchive("export", "--db", db)
    assert export.returncode == 0, export.stderr
    port = free_port()
    # The server logs every request: to a file, as a pipe nobody reads would fill and block it.
    log = open(tmp / "serve.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "serve", "--db", db, "--port", str(port)],
        cwd=REPO,
        env=_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(base, proc, tmp / "serve.log")
        yield (
            base,
            path,
            {
                "between": between,
                "changed": changed,
                "records": [json.loads(line) for line in export.stdout.splitlines()],
                "port": port,
            },
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def after_captures(path) -> datetime:
    """A time in a later whole second than every capture in the database at `path`.

    Capture times are whole seconds (the WARC-Date, truncated) and `since` is inclusive, so
    a capture made in the very second of the `since` taken just after a crawl counts as a
    change since it. The mirror crawl fetches its 40 articles and exits within about a
    second: taken as soon as it exited, `between` could share its second with all of them."""
    (last,) = sql(path, "SELECT max(fetched_at) FROM captures")[0]
    last = datetime.fromisoformat(last).replace(tzinfo=UTC)
    while (now := datetime.now(UTC)).replace(microsecond=0) <= last:
        time.sleep(0.05)
    return now


def _wait_up(base: str, proc: subprocess.Popen, log, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"dgarchive serve exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/-/versions.json", timeout=5):
                return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                pytest.fail("dgarchive serve did not answer in time")
            time.sleep(0.3)


def get(base: str, path: str, **params) -> tuple[int, object]:
    query = urllib.parse.urlencode({**params, "_shape": "array"})
    url = f"{base}/{DB_NAME}{path}?{query}"
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def rows(base: str, path: str, **params) -> list[dict]:
    status, body = get(base, path, _size="max", **params)
    assert status == 200, body
    assert isinstance(body, list), body
    return body


def sql(path, query: str, *args) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(query, args).fetchall()
    finally:
        conn.close()


pytestmark = pytest.mark.e2e


def test_search_param_uses_the_fts_table(served):
    base, path, _ = served
    found = {r["url"] for r in rows(base, "/articles.json", _search="乡村振兴")}
    expected = {
        url
        for (url,) in sql(
            path,
            "SELECT url FROM articles WHERE instr(title, ?1) OR instr(text, ?1)"
            " OR instr(title_simplified, ?1) OR instr(text_simplified, ?1)",
            "乡村振兴",
        )
    }
    assert len(expected) >= 2  # the 寮厦 interview, in both scripts
    assert found == expected


def test_json_api_tables_and_views(served):
    base, path, _ = served
    for table in ("articles", "interview_overview", "guest_turns", "anomalies"):
        got = rows(base, f"/{table}.json")
        (count,) = sql(path, f"SELECT count(*) FROM {table}")[0]
        assert len(got) == count > 0, table
    article = rows(base, "/articles.json", url=served[2]["changed"])
    assert [a["url"] for a in article] == [served[2]["changed"]]


def test_metadata_names_the_fts_table_and_describes_tables(served):
    from pipelines.store.models import Article

    base, _, _ = served
    with urllib.request.urlopen(f"{base}/-/metadata.json", timeout=30) as resp:
        meta = json.loads(resp.read())
    articles = meta["databases"][DB_NAME]["tables"]["articles"]
    assert (articles["fts_table"], articles["fts_pk"]) == ("articles_fts", "id")
    described = Article.__table__.comment or Article.__doc__.split("\n\n")[0].strip()
    assert articles["description"].startswith(described.split("\n")[0])
    assert set(meta["databases"][DB_NAME]["queries"]) == {
        "interviews_by_guest",
        "turns_by_guest",
        "articles_by_town_and_month",
        "changes_since",
        "anomalies",
        "search",
    }


def _a_guest(path) -> str:
    (name,) = sql(
        path,
        "SELECT p.name_simplified FROM people p JOIN interview_turns t ON t.person_id = p.id"
        " GROUP BY p.id ORDER BY count(*) DESC, p.name LIMIT 1",
    )[0]
    return name


def test_interviews_by_guest(served):
    base, path, _ = served
    guest = _a_guest(path)
    expected = sql(
        path,
        "SELECT DISTINCT a.url FROM articles a JOIN interviews i ON i.version_id ="
        " a.current_version_id JOIN interview_guests g ON g.interview_id = i.id"
        " JOIN people p ON p.id = g.person_id WHERE p.name_simplified = ?",
        guest,
    )
    got = rows(base, "/interviews_by_guest.json", guest=guest)
    assert sorted(r["url"] for r in got) == sorted(u for (u,) in expected)
    assert expected
    assert rows(base, "/interviews_by_guest.json", guest="无此人") == []


def test_turns_by_guest(served):
    base, path, _ = served
    guest = _a_guest(path)
    expected = sql(
        path,
        "SELECT t.text FROM interview_turns t JOIN interviews i ON i.id = t.interview_id"
        " JOIN articles a ON a.current_version_id = i.version_id"
        " JOIN people p ON p.id = t.person_id"
        " WHERE t.role = 'guest' AND p.name_simplified = ?",
        guest,
    )
    got = rows(base, "/turns_by_guest.json", guest=guest)
    assert sorted(r["turn_text"] for r in got) == sorted(t for (t,) in expected)
    assert expected


def test_articles_by_town_and_month(served):
    base, _, details = served
    records = details["records"]
    month = records[len(records) // 2]["published_at"][:7]  # China time, as exported
    expected = sorted(r["url"] for r in records if r["published_at"].startswith(month))
    for town in ("houjie", "厚街"):
        got = rows(base, "/articles_by_town_and_month.json", town=town, month=month)
        assert sorted(r["url"] for r in got) == expected, town
        assert all(r["published_at"].startswith(month) for r in got)
    assert expected
    assert rows(base, "/articles_by_town_and_month.json", town="humen", month=month) == []


def test_changes_since(served):
    base, path, details = served
    since = details["between"].strftime("%Y-%m-%dT%H:%M:%SZ")
    # The premise, apart from the API: no capture of the first crawl is in `since`'s second
    # or later (`after_captures`); if one were, its article would rightly be listed too.
    first_run = sql(path, "SELECT id FROM crawl_runs ORDER BY started_at LIMIT 1")[0][0]
    late = "SELECT count(*) FROM captures WHERE crawl_run_id = ? AND fetched_at >= datetime(?)"
    assert sql(path, late, first_run, since) == [(0,)]
    got = rows(base, "/changes_since.json", since=since)
    assert [r["url"] for r in got] == [details["changed"]]
    assert got[0].get("version", 2) == 2
    china = details["between"].astimezone(timezone(timedelta(hours=8)))
    china = china.replace(microsecond=0).isoformat()  # 2026-11-22T08:15:00+08:00
    assert [r["url"] for r in rows(base, "/changes_since.json", since=china)] == [
        details["changed"]
    ]
    # With change tracking in the schema, one row per changed article (not per version).
    (articles,) = sql(path, "SELECT count(*) FROM articles")[0]
    assert len(rows(base, "/changes_since.json", since="2000-01-01T00:00:00Z")) == articles
    assert rows(base, "/changes_since.json", since="2999-01-01T00:00:00Z") == []


def test_anomalies(served):
    base, path, _ = served
    expected = sql(
        path,
        "SELECT n.kind, a.url FROM anomalies n JOIN articles a"
        " ON a.current_version_id = n.version_id",
    )
    got = rows(base, "/anomalies.json", kind="")
    assert sorted((r["kind"], r["url"]) for r in got) == sorted(expected)
    assert any(kind == "hidden_offsite_link" for kind, _ in expected)
    hidden = rows(base, "/anomalies.json", kind="hidden_offsite_link")
    assert hidden
    assert {r["kind"] for r in hidden} == {"hidden_offsite_link"}


def test_search_query_finds_two_character_words(served):
    base, path, _ = served
    for phrase in ("乡村", "乡村振兴", "鄉村振興"):
        expected = {
            u
            for (u,) in sql(
                path,
                "SELECT url FROM articles WHERE instr(title, ?1) OR instr(text, ?1)"
                " OR instr(title_simplified, ?1) OR instr(text_simplified, ?1)",
                phrase,
            )
        }
        got = {r["url"] for r in rows(base, "/search.json", q=phrase)}
        assert got == expected, phrase
        assert expected, phrase


def test_writes_are_refused(served):
    base, path, _ = served
    (before,) = sql(path, "SELECT count(*) FROM articles")[0]
    for statement in (
        "DELETE FROM articles",
        "UPDATE articles SET title = 'x'",
        "SELECT 1; DELETE FROM articles",
        "PRAGMA query_only = 0",
    ):
        status, body = get(base, ".json", sql=statement)
        assert status == 400, (statement, body)
    request = urllib.request.Request(f"{base}/{DB_NAME}/articles", data=b"title=x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    # Datasette 0.65 answers a POST to a table (only canned queries take one) with an error
    assert refused.value.code >= 400
    assert sql(path, "SELECT count(*) FROM articles")[0] == (before,)
    with urllib.request.urlopen(f"{base}/-/databases.json", timeout=30) as resp:
        (database,) = json.loads(resp.read())
    assert database["name"] == DB_NAME


def test_bound_to_loopback_only(served):
    port = served[2]["port"]
    # Linux routes all of 127/8 to lo: a server bound to 0.0.0.0 would answer on 127.0.0.2.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", port), timeout=5).close()
