"""What goes into a WACZ's `logs/`: each run's report and log as the WARC files hold them
(`urn:dgarchive:run:<id>:report|log`), else a report file beside the archive, else the run's
row in the database."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipelines.dates import as_utc, utc_z
from pipelines.warc.runrecords import RunRecord, read_run_record, run_record_uri

_REPORT_MAX_BYTES = 20 * 1024 * 1024  # a run report is small; a larger .json is something else


def _cdx_data(line: str) -> dict:
    return json.loads(line.split(" ", 2)[2])


def run_logs(
    archive: Path, db_url: str, runs: set[str], lines: Iterable[str]
) -> Iterator[tuple[str, bytes]]:
    """(name in the package, bytes) for every run of the selection, in run order."""
    in_warc = run_records(archive, lines)
    for (run_id, kind), rec in sorted(in_warc.items()):
        # Not `…report.json`: frictionless (`wacz validate`) reads such a name as its own
        # validation-report format and rejects the package.
        yield (
            (f"logs/run-{run_id}.json" if kind == "report" else f"logs/run-{run_id}-log.jsonl"),
            rec.body,
        )
    with_report = {run_id for run_id, kind in in_warc if kind == "report"}
    reports = find_reports(archive, runs - with_report)
    missing = runs - set(reports) - with_report
    rows = _run_rows(db_url, missing) if missing else {}
    for run_id in sorted(runs - with_report):
        if run_id in reports:
            yield f"logs/report-{run_id}.json", reports[run_id].read_bytes()
        elif run_id in rows:
            data = json.dumps(rows[run_id], indent=1, ensure_ascii=False).encode()
            yield f"logs/run-{run_id}.json", data


def _run_rows(db_url: str, run_ids: set[str]) -> dict[str, dict]:
    from sqlalchemy.orm import Session

    from pipelines.store import make_engine
    from pipelines.store.models import CrawlRun

    engine = make_engine(db_url, must_exist=True)
    try:
        with Session(engine) as s:
            out = {}
            for run_id in run_ids:
                run = s.get(CrawlRun, run_id)
                if run is not None:
                    out[run_id] = {
                        "run_id": run.id,
                        "kind": run.kind,
                        "started_at": utc_z(as_utc(run.started_at)),
                        "finished_at": utc_z(as_utc(run.finished_at)) if run.finished_at else None,
                        "status": run.status,
                        "args": run.args,
                        "counters": run.counters,
                    }
            return out
    finally:
        engine.dispose()


def run_records(archive: Path, lines: Iterable[str]) -> dict[tuple[str, str], RunRecord]:
    """The run reports and logs held in the selection's WARC files, by (run id, kind)."""
    found: dict[tuple[str, str], RunRecord] = {}
    for line in lines:
        data = _cdx_data(line)
        which = run_record_uri(data.get("url", ""))
        if which is None or which in found or "offset" not in data:
            continue
        rec = read_run_record(archive / data["filename"], int(data["offset"]))
        if rec is not None:
            found[which] = rec
    return found


def find_reports(archive: Path, run_ids: set[str]) -> dict[str, Path]:
    """Run reports (`--report` JSON files) kept in the archive directory tree, by run id."""
    found: dict[str, Path] = {}
    for path in sorted(archive.rglob("*.json")):
        if "indexes" in path.relative_to(archive).parts or path.stat().st_size > _REPORT_MAX_BYTES:
            continue
        try:
            run_id = json.loads(path.read_bytes()).get("run_id")
        except (OSError, ValueError, AttributeError):
            continue
        if run_id in run_ids:
            found[run_id] = path
    return found
