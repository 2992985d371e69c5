"""`dgarchive run-report --frontier URL`: the merged report of a distributed run's workers."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from crawler.cli.base import UsageError
from crawler.exitcodes import ExitCode

# Counters summed over the workers; the other fields are merged below.
_SKIP = {"run_id", "dgarchive_version", "started_at", "finished_at", "duration_seconds",
         "finish_reason", "site_root", "towns", "columns", "failures", "warc_files",
         "warc_file_count", "exit_code", "worker_id", "host_budget", "responses_by_status"}  # fmt: skip


def register(sub: Any) -> None:
    rr = sub.add_parser(
        "run-report",
        help="merge the reports of a distributed crawl run's workers (crawl --frontier)",
        description="Print one JSON report for a run of `dgarchive crawl --frontier`: counts "
        "summed over its workers, failures and WARC files together, each worker's summary.",
    )
    rr.add_argument("--frontier", metavar="URL", help="the run's Redis (or $DGARCHIVE_FRONTIER)")
    rr.add_argument("--run-id", metavar="ID", help="the run id (default the latest run)")
    rr.add_argument("--output", metavar="FILE", help="write the JSON to FILE, not stdout")
    rr.set_defaults(run=run)


def merge_reports(run_id: str, reports: dict[str, dict]) -> dict[str, Any]:
    """One report from the workers' reports. Pure."""
    ordered = [reports[w] for w in sorted(reports)]
    merged: dict[str, Any] = {
        "run_id": run_id,
        "workers": len(ordered),
        "started_at": min((r["started_at"] for r in ordered if r.get("started_at")), default=None),
        "finished_at": max(
            (r["finished_at"] for r in ordered if r.get("finished_at")), default=None
        ),
        "site_root": next((r.get("site_root") for r in ordered), None),
        "towns": sorted({t for r in ordered for t in r.get("towns", [])}),
        "columns": sorted({c for r in ordered for c in r.get("columns", [])}),
        "host_budget": next((r.get("host_budget") for r in ordered if r.get("host_budget")), None),
    }
    for report in ordered:
        for key, value in report.items():
            if key not in _SKIP and isinstance(value, int) and not isinstance(value, bool):
                merged[key] = merged.get(key, 0) + value
    statuses: dict[str, int] = {}
    for report in ordered:
        for status, n in report.get("responses_by_status", {}).items():
            statuses[status] = statuses.get(status, 0) + n
    merged["responses_by_status"] = dict(sorted(statuses.items()))
    merged["failures"] = [f for r in ordered for f in r.get("failures", [])]
    merged["warc_files"] = sorted(f for r in ordered for f in r.get("warc_files", []))
    merged["warc_file_count"] = len(merged["warc_files"])
    merged["exit_code"] = max((int(r.get("exit_code", 0)) for r in ordered), default=0)
    merged["by_worker"] = {
        w: {k: reports[w].get(k) for k in ("finish_reason", "requests", "new_articles", "exit_code",
            "started_at", "finished_at", "requeued")}
        for w in sorted(reports)
    }  # fmt: skip
    return merged


def run(args: argparse.Namespace, settings: Any = None) -> int:
    from crawler.cli.base import project_settings

    settings = settings if settings is not None else project_settings()
    url = args.frontier or settings.get("DISTRIBUTED_FRONTIER")
    if not url:
        raise UsageError("run-report needs --frontier URL (or DGARCHIVE_FRONTIER)")
    import redis

    from crawler.distributed.frontier import run_reports, shown

    try:
        run_id, reports = run_reports(url, args.run_id)
    except redis.RedisError as exc:
        print(f"dgarchive: error: the frontier Redis at {shown(url)}: {exc}", file=sys.stderr)
        return ExitCode.DATABASE_UNREACHABLE
    if run_id is None or not reports:
        print(f"dgarchive: error: no worker report for run {run_id or '(none)'}", file=sys.stderr)
        return ExitCode.USAGE
    text = json.dumps(merge_reports(run_id, reports), ensure_ascii=False, indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    else:
        print(text)
    return ExitCode.OK
