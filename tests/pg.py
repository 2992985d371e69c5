"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary directory, a server on
a free 127.0.0.1 port with trust authentication, removed when stopped. No Scrapy, no pytest.

PostgreSQL refuses to run as root; under root the server runs as `nobody` (setpriv or
runuser), and the directory is handed to that user. Usable from a shell too:
`python -m tests.pg` starts a cluster and prints its URL until Ctrl-C.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SERVER_OPTIONS = (
    # Durability is worthless in a cluster that lives for one test session.
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=200",
    "shared_buffers=32MB",
)


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, or the cluster would not start."""


def find_bindir() -> Path | None:
    """The directory of `initdb` and `postgres`: $PG_BINDIR, the newest Debian/Ubuntu
    /usr/lib/postgresql/N/bin, or the PATH."""
    candidates = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    candidates.extend(Path(p) for p in reversed(versions))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for c in candidates:
        if (c / "initdb").is_file() and (c / "postgres").is_file():
            return c
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user_prefix() -> tuple[list[str], str | None]:
    """Command prefix that drops root, and the user it runs as (None: not root)."""
    if os.geteuid() != 0:
        return [], None
    user = "postgres" if _user_exists("postgres") else "nobody"
    if shutil.which("setpriv"):
        pw = pwd.getpwnam(user)
        return (
            ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups"],
            user,
        )
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--"], user
    raise PostgresUnavailable("running as root and neither setpriv nor runuser is available")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class PgCluster:
    """One throwaway cluster. `start()` returns the URL of its `postgres` database."""

    def __init__(self, bindir: Path | None = None, base: str | None = None):
        found = bindir or find_bindir()
        if found is None:
            raise PostgresUnavailable(
                "PostgreSQL server binaries (initdb, postgres) not found; install postgresql "
                "or set PG_BINDIR"
            )
        self.bindir = found
        self.base = base
        self.dir: Path | None = None
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self, timeout: float = 60.0) -> str:
        prefix, user = _as_user_prefix()
        self.dir = Path(tempfile.mkdtemp(prefix="dgarchive-pg-", dir=self.base))
        data = self.dir / "data"
        if user is not None:
            pw = pwd.getpwnam(user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run(
            [
                *prefix,
                str(self.bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                # A UTF-8 ctype classifies CJK characters as letters, so pg_trgm indexes them.
                "--locale=C.UTF-8",
                "--no-sync",
                "--no-instructions",
            ],
            "initdb",
        )
        self.port = free_port()
        log = open(self.dir / "server.log", "wb")
        self._log = log
        opts = [a for o in SERVER_OPTIONS for a in ("-c", o)]
        self.proc = subprocess.Popen(
            [
                *prefix,
                str(self.bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-k",
                str(self.dir),
                "-c",
                "listen_addresses=127.0.0.1",
                *opts,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self._wait_ready(timeout)
        return self.url

    def _run(self, cmd: list[str], what: str) -> None:
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=self.dir)
        if res.returncode != 0:
            raise PostgresUnavailable(f"{what} failed: {res.stderr.strip()[-500:]}")

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise PostgresUnavailable(f"postgres exited: {self.server_log()[-800:]}")
            try:
                with psycopg.connect(
                    host="127.0.0.1",
                    port=self.port,
                    user="postgres",
                    dbname="postgres",
                    connect_timeout=2,
                ):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise PostgresUnavailable(
                        "postgres did not accept connections in time"
                    ) from None
                time.sleep(0.1)

    def server_log(self) -> str:
        try:
            return (self.dir / "server.log").read_text(errors="replace") if self.dir else ""
        except OSError:
            return ""

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True
        ) as conn:
            conn.execute(sql)

    def create_database(self, name: str) -> str:
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


if __name__ == "__main__":
    cluster = PgCluster()
    print(cluster.start(), flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
