"""Two revisions crawl the same mirror; their exit codes, exports, WARC records and run reports
must match (issue 10: "no behaviour changes").

`python -m bench.compare_revisions --before REV --after REV [--articles 2000] [--keep DIR]`

Each revision is checked out as a detached `git worktree` in a temporary directory. When the
two revisions declare the same runtime dependencies (`[project] dependencies` and
`requires-python` of pyproject.toml) both run on this interpreter with PYTHONPATH and the
working directory pointing at their worktree; otherwise each gets its own venv with its own
`pip install` (slow, needs the package index). ONE mirror from the current tree
(tests.mocksite, faults on, so 404/500/cut pages count too) serves both crawls, one after the
other, each into its own archive and SQLite database, with tests/e2e.py's MIRROR_SETTINGS.

Compared, and what is allowed to differ:
  1. exit codes of `crawl` and `export`: identical;
  2. `dgarchive export` (each revision's own), sorted by url, minus the capture fields that
     name a place or a moment (warc_filename, warc_offset, warc_length, warc_record_id,
     fetched_at): identical;
  3. WARC records, as a multiset per target URI: record type, target URI, HTTP status line,
     payload digest, the stable WARC headers, the HTTP header lines in order minus `Date`; the
     mirror's session cookies are numbered in the order requests reach it, so Set-Cookie and
     Cookie values are masked (their names and attributes stay); warcinfo fields minus the run
     id (`isPartOf`): identical;
  4. run report counters, statuses, failures (as a set), finish reason, exit code: identical,
     except `bytes_written`, the gzip size of records whose ids and dates differ, which may
     differ by BYTES_TOLERANCE.

Differences that a later issue made on purpose (KNOWN_CHANGES, each matched narrowly and
explained) are listed apart. Prints a table and exits 1 on any difference, known or not
(`--accept-known`: 0 when only known changes remain); 2 when a run could not be compared.
The comparison is bench/revision_diff.py (pure), tested by tests/test_compare_revisions.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.revision_diff import (
    Aspect,
    compare_exit_codes,
    compare_exports,
    compare_reports,
    compare_warcs,
    explain,
    format_table,
    read_archive,
    verdict,
)

REPO = Path(__file__).resolve().parent.parent
CRAWL_TIMEOUT = 3600


@dataclass
class Revision:
    label: str
    sha: str
    tree: Path
    python: str
    work: Path  # archive, database, report, logs


@dataclass
class Outcome:
    exit_codes: dict[str, int]
    export: str
    report: dict[str, Any]
    seconds: float


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def runtime_requirements(sha: str) -> tuple[list[str], str]:
    """A revision's runtime dependencies and Python requirement, from its pyproject.toml."""
    project = tomllib.loads(git("show", f"{sha}:pyproject.toml"))["project"]
    return sorted(project.get("dependencies", [])), project.get("requires-python", "")


def _env(tree: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DGARCHIVE_")}
    return {**base, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}


@contextmanager
def worktree(sha: str, path: Path) -> Iterator[Path]:
    git("worktree", "add", "--detach", "--quiet", str(path), sha)
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, check=False)


def own_venv(tree: Path, where: Path) -> str:
    """A venv with the revision's runtime dependencies (only when they differ from ours)."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = str(where / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", str(tree)], check=True)
    return python


@contextmanager
def mirror(articles: int) -> Iterator[str]:
    """The current tree's mirror, in its own process so it does not share the crawl's GIL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.mocksite", "--articles", str(articles), "--faults",
         "--port", "0"],
        cwd=REPO, env=_env(REPO), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = line.strip().rsplit(" ", 1)[-1]
        if not url.startswith("http"):
            raise SystemExit(f"mirror did not start: {line!r}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_revision(rev: Revision, site_url: str, settings: list[str]) -> Outcome:
    """Crawl the mirror with one revision, then export with the same revision."""
    db = f"sqlite:///{rev.work / 'db.sqlite'}"
    archive = rev.work / "archive"
    report = rev.work / "report.json"
    cmd = [
        rev.python, "-m", "crawler.cli", "crawl", "--town", "houjie", "--site-root", site_url,
        "--archive", str(archive), "--db", db, "--report", str(report), *settings,
    ]  # fmt: skip
    started = time.monotonic()
    with (rev.work / "crawl.log").open("w") as log:
        crawl = subprocess.run(
            cmd, cwd=rev.tree, env=_env(rev.tree), stdout=log, stderr=subprocess.STDOUT,
            timeout=CRAWL_TIMEOUT,
        )  # fmt: skip
    seconds = time.monotonic() - started
    export = subprocess.run(
        [rev.python, "-m", "crawler.cli", "export", "--db", db],
        cwd=rev.tree, env=_env(rev.tree), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    (rev.work / "export.jsonl").write_text(export.stdout)
    if export.returncode:
        (rev.work / "export.err").write_text(export.stderr)
    data = json.loads(report.read_text()) if report.exists() else {}
    codes = {"crawl": crawl.returncode, "export": export.returncode}
    return Outcome(codes, export.stdout, data, seconds)


def compare_outcomes(
    before: Outcome, after: Outcome, archive_before: Path, archive_after: Path
) -> list[Aspect]:
    return [
        compare_exit_codes(before.exit_codes, after.exit_codes),
        compare_exports(before.export, after.export),
        compare_warcs(read_archive(archive_before), read_archive(archive_after)),
        compare_reports(before.report, after.report),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare_revisions", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--before", required=True, metavar="REV")
    parser.add_argument("--after", required=True, metavar="REV")
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--keep", metavar="DIR", help="keep archives, exports, logs in DIR")
    parser.add_argument(
        "--accept-known",
        action="store_true",
        help="exit 0 when the only differences are KNOWN_CHANGES (they are still listed)",
    )
    parser.add_argument(
        "--own-venvs", action="store_true", help="a venv per revision even if deps match"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from tests.e2e import MIRROR_SETTINGS

    labels = {"before": args.before, "after": args.after}
    shas = {k: git("rev-parse", "--verify", f"{v}^{{commit}}") for k, v in labels.items()}
    reqs = {k: runtime_requirements(sha) for k, sha in shas.items()}
    shared = reqs["before"] == reqs["after"] and not args.own_venvs
    print(
        f"before {args.before} = {shas['before'][:12]}, after {args.after} = {shas['after'][:12]}"
    )
    print(
        "runtime dependencies identical: one interpreter, PYTHONPATH per worktree"
        if shared
        else "runtime dependencies differ (or --own-venvs): a venv per revision"
    )
    tmp = Path(tempfile.mkdtemp(prefix="dgarchive-compare-"))
    try:
        with (
            worktree(shas["before"], tmp / "tree-before") as tb,
            worktree(shas["after"], tmp / "tree-after") as ta,
        ):
            revs = {}
            for label, tree in (("before", tb), ("after", ta)):
                work = tmp / f"run-{label}"
                work.mkdir()
                python = sys.executable if shared else own_venv(tree, tmp / f"venv-{label}")
                revs[label] = Revision(label, shas[label], tree, python, work)
            outcomes = {}
            with mirror(args.articles) as url:
                print(f"mirror: {args.articles} articles, faults on, at {url}")
                for label, rev in revs.items():
                    outcomes[label] = run_revision(rev, url, MIRROR_SETTINGS)
                    o = outcomes[label]
                    print(
                        f"{label}: crawl exit {o.exit_codes['crawl']}, "
                        f"{o.report.get('requests')} requests, {o.seconds:.0f} s",
                        flush=True,
                    )
            if not all(o.report for o in outcomes.values()):
                print("a crawl wrote no run report; see crawl.log under --keep", file=sys.stderr)
                rc = 2
            else:
                aspects = compare_outcomes(
                    outcomes["before"], outcomes["after"],
                    revs["before"].work / "archive", revs["after"].work / "archive",
                )  # fmt: skip
                explain(aspects)
                print(format_table(aspects))
                result = verdict(aspects)
                rc = (
                    0
                    if result == "IDENTICAL" or (args.accept_known and result != "DIFFERENT")
                    else 1
                )
    finally:
        if args.keep:
            keep = Path(args.keep)
            keep.mkdir(parents=True, exist_ok=True)
            for run in tmp.glob("run-*"):
                shutil.rmtree(keep / run.name, ignore_errors=True)
                shutil.move(str(run), keep / run.name)
        shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
