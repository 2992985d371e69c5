"""One crawl at a time per PostgreSQL database: a server-side advisory lock."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from crawler.runlock import LockHeldError, utcnow_stamp

logger = logging.getLogger(__name__)

# PostgreSQL: the database is shared by crawls that may use different archives (and run on
# different hosts), so the lock lives in the server: a session-level advisory lock, which
# the server drops by itself when the holding connection ends, dead process included.
ADVISORY_LOCK_KEY = 0x6467617263686976  # "dgarchiv"


class DatabaseLock:
    """One crawl at a time per PostgreSQL database; a context manager.

    Holds `pg_try_advisory_lock(ADVISORY_LOCK_KEY)` on a connection of its own for the run;
    the connection's `application_name` names the holder, so a refused crawl can say who.
    A database that is not PostgreSQL needs no lock here (SQLite files have `RunLock`).
    """

    def __init__(self, db_url: str, *, run_id: str | None = None, shared: bool = False) -> None:
        self.db_url = db_url
        self.run_id = run_id
        self.shared = shared
        self._engine = None
        self._conn = None

    @staticmethod
    def applies_to(db_url: str | None) -> bool:
        return bool(db_url) and db_url.split(":", 1)[0].split("+", 1)[0] in (
            "postgresql",
            "postgres",
        )

    def acquire(self) -> DatabaseLock:
        from sqlalchemy import text

        from pipelines.store import make_engine, shown_url, translate_error

        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": utcnow_stamp()}
        name = f"dgarchive {holder['pid']}@{holder['host']} {(self.run_id or '')[:8]}"
        self._engine = make_engine(self.db_url)
        try:
            self._conn = self._engine.connect()
            self._conn.execute(
                text("SELECT set_config('application_name', :n, false)"), {"n": name[:63]}
            )
            function = "pg_try_advisory_lock_shared" if self.shared else "pg_try_advisory_lock"
            got = self._conn.execute(
                text(f"SELECT {function}(:k)"), {"k": ADVISORY_LOCK_KEY}
            ).scalar()
            self._conn.commit()
            other_run = ""
            keys = {"lo": ADVISORY_LOCK_KEY & 0xFFFFFFFF, "hi": ADVISORY_LOCK_KEY >> 32}
            if self.shared:
                keys["mine"] = f"dgarchive % {(self.run_id or '')[:8]}"
            if got and self.shared:
                # Shared holders must all be workers of this run (named in application_name).
                other_run = "AND a.application_name NOT LIKE :mine "
                got = self._conn.execute(
                    text(
                        "SELECT count(*) = 0 FROM pg_locks l JOIN pg_stat_activity a "
                        "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                        "AND l.database = (SELECT oid FROM pg_database "
                        "WHERE datname = current_database()) "
                        "AND l.objid = :lo AND l.classid = :hi " + other_run
                    ),
                    keys,
                ).scalar()
            if not got:
                other = self._conn.execute(
                    text(
                        "SELECT a.application_name, a.client_addr, a.backend_start "
                        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE l.locktype = 'advisory' AND l.granted "
                        "AND l.database = (SELECT oid FROM pg_database "
                        "WHERE datname = current_database()) "
                        "AND l.objid = :lo AND l.classid = :hi " + other_run
                    ),
                    keys,
                ).first()
                self.release()
                raise LockHeldError(shown_url(self.db_url), _pg_holder(other))
        except LockHeldError:
            raise
        except Exception as exc:  # noqa: BLE001 - any driver failure is a database error (exit 5)
            self.release()
            raise translate_error(exc, self.db_url) from None
        return self

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()  # ends the session, and with it the advisory lock
            except Exception:
                logger.debug("closing the database lock connection failed", exc_info=True)
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    def __enter__(self) -> DatabaseLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _pg_holder(row: Any) -> dict[str, Any] | None:
    """`dgarchive <pid>@<host> <run>` from the holder's application_name."""
    if row is None:
        return None
    name, _addr, started = row
    parts = (name or "").split()
    holder: dict[str, Any] = {"started_at": started.isoformat() if started else None}
    if len(parts) >= 2 and parts[0] == "dgarchive" and "@" in parts[1]:
        pid, _, host = parts[1].partition("@")
        holder.update(pid=pid, host=host, run_id=parts[2] if len(parts) > 2 else None)
    else:
        holder.update(pid="?", host=name or "?")
    return holder
