"""`dgarchive export`: the stored records as JSON lines or CSV. Reads the database only.

JSON lines: one article a line, the contract record of its current version plus `capture`
(where that version's bytes are: WARC file, offset, length, record id, payload digest, fetch
time, fetch URL, status), ordered by URL, UTF-8 with `ensure_ascii=False`.

Both end with the sync keys an app needs to follow changes: `article_id`, `version`,
`content_hash`, `status`. Always UTF-8, whatever the locale; `--output FILE` replaces FILE
only once the export is complete.

CSV: one row per article with the record's scalar fields; `images`, `anomalies` and
`interview` as compact JSON cells, plus `interview_guests` ("name (title); …") and
`interview_turns` (a count) for spreadsheet filtering, then the capture fields.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from pipelines.records import CAPTURE_FIELDS
from pipelines.store import RecordStore, make_engine, schema_state, schema_too_new_error

CSV_FIELDS = (
    "url",
    "site",
    "column",
    "title",
    "published_at",
    "source",
    "script",
    "text",
    "images",
    "anomalies",
    "interview_guests",
    "interview_turns",
    "interview",
)
# The CSV has always ended its capture columns before `status`; its readers keep that shape.
CSV_CAPTURE_FIELDS = tuple(f for f in CAPTURE_FIELDS if f != "status")
# The sync keys come last: columns are only ever added at the end.
SYNC_FIELDS = ("article_id", "version", "content_hash", "status")
CSV_EXTRA_FIELDS = CSV_CAPTURE_FIELDS + SYNC_FIELDS


def export_records(
    db_url: str, since: date | None = None, changed_since: datetime | None = None
) -> Iterator[dict]:
    """Every stored article as its record plus `capture` and the sync keys (`article_id`,
    `version`, `content_hash`, `status`), ordered by URL. `since`: only articles published on
    or after that date (China time); undated articles are left out then. `changed_since`:
    only articles with a new version or a new status at or after that instant. A database
    with no schema yet has no records; a missing SQLite file is an error
    (`DatabaseUnreachableError`), not a new empty database."""
    engine = make_engine(db_url, must_exist=True)
    try:
        state = schema_state(engine)
        if state == "empty":
            return
        if state == "ahead":  # tables this code does not know: refuse, don't guess
            raise schema_too_new_error(engine)
        yield from map(
            with_replay_url,
            RecordStore(engine).iter_records(since=since, changed_since=changed_since),
        )
    finally:
        engine.dispose()


def with_replay_url(record: dict) -> dict:
    """Add `replay_url`: the capture's path under `dgarchive replay` (collection `dgarchive`,
    the 14-digit capture time, the URL as captured), or None without a capture."""
    capture = record.get("capture") or {}
    when, url = capture.get("fetched_at"), capture.get("target_uri")
    stamp = "".join(c for c in when or "" if c.isdigit())[:14]
    record["replay_url"] = f"/dgarchive/{stamp}/{url}" if len(stamp) == 14 and url else None
    return record


def run_export(
    db_url: str,
    fmt: str = "jsonl",
    since: date | None = None,
    out: TextIO | None = None,
    *,
    changed_since: datetime | None = None,
    bom: bool = False,
) -> int:
    """Write the export to `out` (stdout); returns the exit status (0). Database problems
    raise `pipelines.store.DatabaseError` (one-line message) for the command to report.
    `bom`: start with a UTF-8 byte order mark (CSV for Excel)."""
    out = out if out is not None else sys.stdout
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown export format {fmt!r}: jsonl or csv")
    records = export_records(db_url, since, changed_since)
    if bom:
        out.write("\ufeff")
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS + CSV_EXTRA_FIELDS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow(csv_row(record))
    out.flush()
    return 0


def export_to(path: str | Path | None, write: Callable[[TextIO], int]) -> int:
    """Run `write` on a UTF-8 text stream, whatever the locale or PYTHONIOENCODING says:
    stdout's bytes (`path` None or `-`), or a temporary file beside `path` that replaces it
    only once complete, so a reader never sees half an export."""
    if path is None or str(path) == "-":
        sys.stdout.flush()
        # A second writer on file descriptor 1 that never closes it: stdout stays usable.
        with open(sys.stdout.fileno(), "w", encoding="utf-8", newline="", closefd=False) as out:
            return write(out)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            status = write(stream)
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return status


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def csv_row(record: dict) -> dict[str, Any]:
    """One CSV row: scalar fields as they are, lists and the interview as JSON."""
    interview = record.get("interview")
    capture = record.get("capture") or {}
    guests = (interview or {}).get("guests") or []
    return {
        "url": record.get("url"),
        "site": record.get("site"),
        "column": record.get("column"),
        "title": record.get("title"),
        "published_at": record.get("published_at"),
        "source": record.get("source"),
        "script": record.get("script"),
        "text": record.get("text"),
        "images": _json(record.get("images") or []),
        "anomalies": _json(record.get("anomalies") or []),
        "interview_guests": "; ".join(
            f"{g.get('name')} ({g.get('title')})" if g.get("title") else str(g.get("name"))
            for g in guests
        ),
        "interview_turns": len((interview or {}).get("turns") or []) if interview else "",
        "interview": _json(interview) if interview is not None else "",
        **{k: capture.get(k) for k in CSV_CAPTURE_FIELDS},
        **{k: record.get(k) for k in SYNC_FIELDS},
    }
