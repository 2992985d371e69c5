"""The read API for downstream apps: the Datasette metadata `dgarchive serve` generates over a
SQLite database, and the read-only PostgreSQL role `dgarchive db grant-reader` creates.

The metadata is built from the database as it is (its tables and columns) and the models'
documentation: a table's or column's `comment` when the models declare one, else the model's
docstring, so docs/schema.md, the database's COMMENTs and the API never disagree. Datasette
does not recognise the FTS5 table by itself (it is declared `content='articles'`, and
Datasette looks for `content="articles"`), so the metadata names it (`fts_table`, `fts_pk`).
"""

from __future__ import annotations

import inspect as pyinspect
import re
from typing import Any

from sqlalchemy import Connection, Engine, inspect, text

from crawler import __version__
from pipelines.store.models import FTS_TABLE, Base

__all__ = [
    "ROLE_NAME",
    "VIEW_DESCRIPTIONS",
    "canned_queries",
    "datasette_metadata",
    "database_columns",
    "grant_reader",
]

# A PostgreSQL role name that needs no quoting (and is lower case, as unquoted names are).
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

VIEW_DESCRIPTIONS = {
    "guest_turns": "One row per guest turn of the current version of every interview, with the "
    "guest, their title then, the section and the article.",
    "interview_overview": "One row per interview (current versions): date, town, column, "
    "guests (joined by 、), section and turn counts, summary.",
}

# SQLite stores UTC as naive text; shown in China time in the contract's ISO form, as the
# views do.
_PUBLISHED = "strftime('%Y-%m-%dT%H:%M:%S+08:00', a.published_at, '+8 hours')"
# A guest by name as printed, or by its simplified form (people.name_simplified).
_GUEST_IDS = "SELECT id FROM people WHERE name = :guest OR name_simplified = :guest"


def _doc(cls: type | None) -> str | None:
    if cls is None or not cls.__doc__:
        return None
    return pyinspect.cleandoc(cls.__doc__).split("\n\n")[0].replace("\n", " ")


def _model_docs() -> dict[str, tuple[str | None, dict[str, str]]]:
    """Table name -> (description, {column: description}) from the models."""
    classes = {m.local_table.name: m.class_ for m in Base.registry.mappers}
    docs = {}
    for table in Base.metadata.sorted_tables:
        described = table.comment or _doc(classes.get(table.name))
        columns = {c.name: c.comment for c in table.columns if c.comment}
        docs[table.name] = (described, columns)
    return docs


def database_columns(bind: Engine | Connection) -> dict[str, list[str]]:
    """Every table and view of the database with its column names."""
    insp = inspect(bind)
    names = list(insp.get_table_names()) + list(insp.get_view_names())
    return {name: [c["name"] for c in insp.get_columns(name)] for name in names}


def canned_queries(columns: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Datasette canned queries (SQLite SQL) over a database with these `columns`.

    `changes_since` lists the versions made since a timestamp (the fetch time of the capture
    that made each one). When the schema has `articles.content_changed_at` / `status` (added
    with change tracking), it lists articles by those instead, withdrawn ones included.
    """
    articles = set(columns.get("articles", ()))
    queries: dict[str, dict[str, Any]] = {
        "interviews_by_guest": {
            "title": "Interviews of a guest",
            "description": "Every interview (current version) with this guest, newest first. "
            "The name as printed or in simplified script.",
            "sql": "SELECT o.interview_date, o.title, o.guests, o.town, o.column_name,\n"
            "       o.section_count, o.turn_count, o.url, o.article_id, o.interview_id\n"
            "FROM interview_overview o\n"
            "WHERE o.interview_id IN (SELECT g.interview_id FROM interview_guests g\n"
            f"                         WHERE g.person_id IN ({_GUEST_IDS}))\n"
            "ORDER BY o.interview_date DESC, o.url",
        },
        "turns_by_guest": {
            "title": "What a guest said",
            "description": "Every turn a guest spoke, by interview date and position. The name "
            "as printed or in simplified script.",
            "sql": "SELECT interview_date, article_title, guest_title, section_topic,\n"
            "       turn_position, turn_text, url\n"
            "FROM guest_turns\n"
            f"WHERE person_id IN ({_GUEST_IDS})\n"
            "ORDER BY interview_date, url, turn_position",
        },
        "articles_by_town_and_month": {
            "title": "Articles of a town in a month",
            "description": "town: slug (houjie) or name (厚街); month: YYYY-MM, China time.",
            "sql": f"SELECT {_PUBLISHED} AS published_at, a.title, c.name AS column_name,\n"
            "       a.url, a.id AS article_id\n"
            "FROM articles a\n"
            "JOIN site_columns c ON c.id = a.column_id\n"
            "JOIN towns t ON t.id = c.town_id\n"
            "WHERE (t.slug = :town OR t.name = :town)\n"
            "  AND strftime('%Y-%m', a.published_at, '+8 hours') = :month\n"
            "ORDER BY a.published_at DESC, a.url",
        },
        "changes_since": _changes_since(articles),
        "anomalies": {
            "title": "Anomalies",
            "description": "What an archivist should know about current versions (e.g. "
            "hidden off-site links). kind: blank for every kind.",
            "sql": "SELECT n.kind, n.detail, a.title, "
            f"{_PUBLISHED} AS published_at, a.url, a.id AS article_id\n"
            "FROM anomalies n\n"
            "JOIN articles a ON a.current_version_id = n.version_id\n"
            "WHERE :kind = '' OR n.kind = :kind\n"
            "ORDER BY a.published_at DESC, a.url, n.position",
        },
        "search": {
            "title": "Search titles and texts",
            "description": "A phrase in titles and texts, in the script typed or in simplified "
            "script. Unlike ?_search (FTS5), it finds one- and two-character words too.",
            "sql": "SELECT a.title, "
            f"{_PUBLISHED} AS published_at, a.url, a.id AS article_id\n"
            "FROM articles a\n"
            "WHERE CASE WHEN length(:q) >= 3\n"
            f"  THEN a.id IN (SELECT rowid FROM {FTS_TABLE}\n"
            f"               WHERE {FTS_TABLE} MATCH '\"' || replace(:q, '\"', '\"\"') || '\"')\n"
            "  ELSE instr(a.title_simplified, :q) OR instr(a.text_simplified, :q)\n"
            "    OR instr(a.title, :q) OR instr(a.text, :q) END\n"
            "ORDER BY a.published_at DESC, a.url",
        },
    }
    if FTS_TABLE not in columns:  # an SQLite without FTS5 trigrams: the substring scan only
        queries["search"]["sql"] = (
            f"SELECT a.title, {_PUBLISHED} AS published_at, a.url, a.id AS article_id\n"
            "FROM articles a\n"
            "WHERE instr(a.title_simplified, :q) OR instr(a.text_simplified, :q)\n"
            "   OR instr(a.title, :q) OR instr(a.text, :q)\n"
            "ORDER BY a.published_at DESC, a.url"
        )
    return queries


def _changes_since(articles: set[str]) -> dict[str, Any]:
    description = (
        "since: an ISO timestamp with its offset (2026-11-22T08:00:00+08:00 or ...Z); inclusive. "
    )
    if {"content_changed_at", "status"} <= articles:
        gone = "a.gone_at" if "gone_at" in articles else "NULL"
        return {
            "title": "Changes since a timestamp",
            "description": description + "Articles whose content or status changed.",
            "sql": "SELECT a.id AS article_id, a.status, a.content_hash,\n"
            "       a.content_changed_at, "
            f"{gone} AS gone_at, a.title, a.url\n"
            "FROM articles a\n"
            "WHERE a.content_changed_at >= datetime(:since)\n"
            f"   OR {gone} >= datetime(:since)\n"
            "ORDER BY a.content_changed_at, a.id",
        }
    return {
        "title": "Changes since a timestamp",
        "description": description + "Every version made since then, with the time of "
        "the capture that made it.",
        "sql": "SELECT v.article_id, v.number AS version, v.content_hash,\n"
        "       strftime('%Y-%m-%dT%H:%M:%SZ', c.fetched_at) AS changed_at,\n"
        "       a.title, a.url\n"
        "FROM article_versions v\n"
        "JOIN captures c ON c.id = v.capture_id\n"
        "JOIN articles a ON a.id = v.article_id\n"
        # datetime() turns the offset into UTC, the form SQLite stores.
        "WHERE c.fetched_at >= datetime(:since)\n"
        "ORDER BY c.fetched_at, v.article_id, v.number",
    }


def datasette_metadata(database: str, columns: dict[str, list[str]]) -> dict[str, Any]:
    """Datasette's metadata.json for the SQLite database Datasette names `database` (the file
    name without its suffix), whose tables and views have these `columns`."""
    docs = _model_docs()
    tables: dict[str, dict[str, Any]] = {}
    for name, cols in columns.items():
        description, col_docs = docs.get(name, (VIEW_DESCRIPTIONS.get(name), {}))
        entry: dict[str, Any] = {}
        if description:
            entry["description"] = description
        described = {c: col_docs[c] for c in cols if c in col_docs}
        if described:
            entry["columns"] = described
        if name.startswith(FTS_TABLE) or name == "alembic_version":
            entry["hidden"] = True  # the index and its shadow tables, the migration marker
        tables[name] = entry
    if FTS_TABLE in columns and "articles" in tables:
        tables["articles"].update(fts_table=FTS_TABLE, fts_pk="id", sort_desc="published_at")
    return {
        "title": "dgarchive",
        "description": "Town news and interviews of the Dongguan government portal "
        f"(www.dg.gov.cn), archived by dgarchive {__version__}. Read-only.",
        "databases": {
            database: {"tables": tables, "queries": canned_queries(columns)},
        },
    }


def grant_reader(engine: Engine, role: str) -> list[str]:
    """Create PostgreSQL `role` (LOGIN, no password: set one with psql's `\\password ROLE`)
    when missing and let it read, never write: SELECT on every table and view of the current
    schema, now and (default privileges) those later migrations create, and read-only
    transactions by default. Returns the statements run."""
    if engine.dialect.name != "postgresql":
        raise ValueError("grant-reader is for PostgreSQL; a SQLite reader needs file access only")
    if not ROLE_NAME.fullmatch(role):
        raise ValueError(f"role name {role!r}: lower-case letters, digits and _ only, 63 at most")
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        schema = quote(conn.execute(text("SELECT current_schema()")).scalar_one())
        database = quote(conn.execute(text("SELECT current_database()")).scalar_one())
        exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
        ).first()
        statements = [] if exists else [f"CREATE ROLE {role} LOGIN"]
        statements += [
            f"GRANT CONNECT ON DATABASE {database} TO {role}",
            f"GRANT USAGE ON SCHEMA {schema} TO {role}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}",
            # Tables and views later migrations create (as this same owner) too.
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {role}",
            # Belt and braces: even a privilege granted by mistake later cannot write.
            f"ALTER ROLE {role} SET default_transaction_read_only = on",
        ]
        for statement in statements:
            conn.exec_driver_sql(statement)
    return statements
