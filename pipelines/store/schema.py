"""The schema, owned by Alembic: where the migrations are, which revision a database is at
(empty, current, behind, ahead), upgrade/downgrade/check, and the pre-crawl checks. The
migrations directory is found by path, never imported, so `migrations/env.py` may import the
models without a cycle."""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import URL

from pipelines.store.engine import make_engine, migrating
from pipelines.store.errors import DatabaseReadOnlyError, SchemaTooNewError
from pipelines.store.failures import translated
from pipelines.store.urls import shown_url

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (about 0.1 CPU-s to import, and as much to load the migration scripts) is imported
# only to migrate or check the models: the pre-crawl checks read the version table with one
# query and the revisions from the scripts' source (`_declared_revisions`).
VERSION_TABLE = "alembic_version"  # Alembic's default, which migrations/env.py keeps

__all__ = [
    "check_database",
    "check_models",
    "downgrade",
    "ensure_schema",
    "head_revision",
    "migrations_dir",
    "schema_state",
    "schema_too_new_error",
    "upgrade",
]


def migrations_dir() -> Path:
    """The installed `migrations` package directory (env.py, versions/, alembic.ini).

    Found, not imported: the store sits below the migrations, whose env.py imports the
    models. The spec's search locations, not importlib.resources: an editable install may
    expose the package as a namespace, which resources cannot open.
    """
    spec = importlib.util.find_spec("migrations")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the migrations package is not installed alongside pipelines")
    return Path(next(iter(spec.submodule_search_locations)))


def _alembic_config(connection: Any = None) -> Config:
    from alembic.config import Config

    here = migrations_dir()
    cfg = Config(str(here / "alembic.ini"))
    cfg.set_main_option("script_location", str(here))
    cfg.attributes["configure_logger"] = False
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def _script_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(all revision ids, head ids) known to this code."""
    return _declared_revisions() or _alembic_revisions()


def _alembic_revisions() -> tuple[frozenset[str], frozenset[str]]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    revs = frozenset(r.revision for r in script.walk_revisions())
    return revs, frozenset(script.get_heads())


# `revision = "0001"` and `down_revision = ...` (annotated or not) at the start of a line,
# as Alembic's script template writes them. Read with a regular expression and
# `ast.literal_eval` of the value: parsing the whole initial migration with `ast.parse` cost
# about 50 ms.
_DECLARED = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+)$", re.M)


def _declared_revisions() -> tuple[frozenset[str], frozenset[str]] | None:
    """(all revision ids, head ids) read from the `revision` and `down_revision` literals of
    the version scripts, without Alembic and without running them; None when a script does
    not declare each once, on one line, as a literal: Alembic then decides. A head is a
    revision no other revises. tests/test_startup.py holds this equal to Alembic's answer."""
    versions = migrations_dir() / "versions"
    revised: dict[str, set[str]] = {}
    for path in sorted(versions.glob("*.py")):
        if path.name.startswith("__"):
            continue
        found: dict[str, Any] = {}
        try:
            for name, value in _DECLARED.findall(path.read_text(encoding="utf-8")):
                if name in found:
                    return None
                found[name] = ast.literal_eval(value.strip())
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            return None
        rev, down = found.get("revision"), found.get("down_revision", ...)
        if not isinstance(rev, str) or down is ... or rev in revised:
            return None
        if down is None or isinstance(down, str):
            downs = {down} - {None}
        elif isinstance(down, (tuple, list)) and all(isinstance(d, str) for d in down):
            downs = set(down)
        else:
            return None
        revised[rev] = downs  # type: ignore[assignment]
    if not revised:
        return None
    below = set().union(*revised.values())
    return frozenset(revised), frozenset(set(revised) - below)


def head_revision() -> str:
    """The head revision(s) this code migrates to, comma-separated."""
    return ",".join(sorted(_script_revisions()[1]))


def _engine_of(url_or_engine: str | URL | Engine) -> tuple[Engine, bool]:
    if isinstance(url_or_engine, Engine):
        return url_or_engine, False
    return make_engine(url_or_engine), True


def _db_revisions(connection: Any) -> set[str]:
    """The revisions in the database's version table (none when it has no such table), as
    Alembic's `MigrationContext.get_current_heads` reads them."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return set()
    rows = connection.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}")
    return {row[0] for row in rows}


def schema_state(engine: Engine) -> str:
    """`"empty"` (no migration applied), `"current"` (at head), `"behind"` (an older
    revision of this code) or `"ahead"` (a revision this code does not know: a newer
    dgarchive migrated it)."""
    with translated(engine), engine.connect() as conn:
        current = _db_revisions(conn)
    known, heads = _script_revisions()
    if not current:
        return "empty"
    if current - known:
        return "ahead"
    return "current" if current == set(heads) else "behind"


def upgrade(url_or_engine: str | URL | Engine, revision: str = "head") -> None:
    """Migrate the database to `revision` (head). Refuses a schema newer than this code."""
    engine, owned = _engine_of(url_or_engine)
    try:
        if schema_state(engine) == "ahead":
            raise schema_too_new_error(engine)
        from alembic import command

        with translated(engine), migrating(engine) as conn:
            command.upgrade(_alembic_config(conn), revision)
    finally:
        if owned:
            engine.dispose()


def downgrade(url_or_engine: str | URL | Engine, revision: str = "base") -> None:
    """Migrate the database down to `revision` (for development and tests)."""
    engine, owned = _engine_of(url_or_engine)
    try:
        from alembic import command

        with translated(engine), migrating(engine) as conn:
            command.downgrade(_alembic_config(conn), revision)
    finally:
        if owned:
            engine.dispose()


def check_models(url_or_engine: str | URL | Engine) -> None:
    """`alembic check`: raise if the models and the migrated database disagree."""
    engine, owned = _engine_of(url_or_engine)
    try:
        from alembic import command

        with engine.connect() as conn:
            command.check(_alembic_config(conn))
    finally:
        if owned:
            engine.dispose()


def schema_too_new_error(engine: Engine) -> SchemaTooNewError:
    """The one-line error for a database migrated by a newer dgarchive."""
    with engine.connect() as conn:
        current = ",".join(sorted(_db_revisions(conn)))
    return SchemaTooNewError(
        f"database schema is newer than this dgarchive: {shown_url(engine)} is at "
        f"revision {current}, this code knows up to {head_revision()}; upgrade dgarchive"
    )


def ensure_schema(engine: Engine) -> str:
    """Bring the schema to head before a crawl; returns the state found.

    empty or behind: upgrade; current: nothing; ahead: `SchemaTooNewError`. An empty
    SQLite database gets the migrations' result in one go where it can
    (`pipelines.store.freshschema`).
    """
    state = schema_state(engine)
    if state == "ahead":
        raise schema_too_new_error(engine)
    if state == "empty" and engine.dialect.name == "sqlite":
        from pipelines.store.freshschema import create_fresh_sqlite

        with translated(engine):
            if create_fresh_sqlite(engine, head_revision()):
                return state
    if state in ("empty", "behind"):
        upgrade(engine)
    return state


def check_database(url: str | URL) -> None:
    """Pre-flight check before a crawl: the URL parses, the database answers, its schema is
    not newer than this code, and it accepts writes. Raises a `DatabaseError` subclass.

    Nothing is changed: the write probe is rolled back (an empty SQLite file may be created).
    """
    engine = make_engine(url)
    try:
        state = schema_state(engine)
        if state == "ahead":
            raise schema_too_new_error(engine)
        _probe_write(engine, state)
    finally:
        engine.dispose()


def _probe_write(engine: Engine, state: str) -> None:
    with translated(engine), engine.connect() as conn:
        trans = conn.begin()
        try:
            if state == "empty":
                if conn.dialect.name == "postgresql":
                    ro = conn.exec_driver_sql("SHOW transaction_read_only").scalar()
                    if ro == "on":
                        raise DatabaseReadOnlyError(
                            f"database is read-only: {shown_url(engine)} "
                            "(transaction_read_only is on)"
                        )
                conn.exec_driver_sql("CREATE TABLE dgarchive_write_probe (x INTEGER)")
            else:
                conn.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")
        finally:
            trans.rollback()
