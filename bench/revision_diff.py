"""The pure half of bench/compare_revisions.py: normalize and compare two revisions' crawl
outputs (exit codes, export, WARC records, run report), and print the result as a table.

No processes, no git: tests/test_compare_revisions.py runs these on real crawls.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

# Capture fields that name where or when a capture was stored, not what was captured.
VOLATILE_CAPTURE_FIELDS = (
    "warc_filename",
    "warc_offset",
    "warc_length",
    "warc_record_id",
    "fetched_at",
)
# Export keys that name this crawl's capture or this database's row, not the article:
# `replay_url` (the capture's time and fetch URL) and `article_id` (a surrogate key, in the
# order this database stored the articles).
VOLATILE_RECORD_FIELDS = ("replay_url", "article_id")
# The run's own report and log records: their URIs carry the run id, their content the run's
# times and ids; compared by presence and type only.
RUN_RECORD = re.compile(r"^urn:dgarchive:run:[^:]+:(report|log)$")
# HTTP headers whose values are the moment of the exchange.
DATE_HEADERS = frozenset({"date"})
# HTTP headers whose values are the mirror's session numbering (order of arrival).
SESSION_HEADERS = frozenset({"set-cookie", "cookie"})
# WARC headers compared by value; those naming ids, dates, lengths or block digests (which
# cover the Date header) are compared by presence only.
WARC_VALUE_HEADERS = (
    "WARC-Type",
    "WARC-Target-URI",
    "WARC-IP-Address",
    "WARC-Payload-Digest",
    "WARC-Profile",
    "WARC-Refers-To-Target-URI",
    "WARC-Truncated",
    "Content-Type",
)
# warcinfo fields that name the run.
VOLATILE_WARCINFO_FIELDS = frozenset({"ispartof"})
# Report fields compared (all exactly but bytes_written).
REPORT_FIELDS = (
    "finish_reason",
    "exit_code",
    "towns",
    "columns",
    "requests",
    "responses_by_status",
    "new_articles",
    "changed_articles",
    "unchanged_articles",
    "known_skipped",
    "revisits",
    "items_scraped",
    "items_dropped",
    "failures",
    "warc_file_count",
    "bytes_written",
)
# Relative. Two runs of the same code differ in bytes by the gzip of records whose uuids and
# dates differ, and by the Referer of requests that another linking page asked first (the
# WARC aspect reports those): 0.10% was seen between two runs of one tree. A lost or added
# article response is 1-2% of a mirror crawl, well outside.
BYTES_TOLERANCE = 0.005


@dataclass(frozen=True)
class KnownChange:
    """A difference between revisions that a later issue made on purpose, matched narrowly."""

    aspect: str
    pattern: str  # must match a whole difference line
    why: str
    varies_between_runs: bool = False  # seen between two crawls by one revision too


_DUPLICATE = r"redirected to \S+, which this crawl already fetched \(duplicate\)"

# Behaviour changed on purpose between 13f1397 and the restructured tree, by issue 9's
# reliability work. Listed, never silently dropped: the table shows them
# and the exit code counts them unless --accept-known is given.
KNOWN_CHANGES = (
    KnownChange(
        "run report fields",
        r'failures\[\S+/post_3900205\.html\]: "connection closed before the whole body '
        r'arrived" != "incomplete capture: connection closed before the whole body arrived '
        r'\(\d+ of \d+ bytes\)"',
        "issue 9 (bdbf70d, i9-capture): the capture judges a cut body itself and the failure "
        "reason names the bytes received; same URL, same exit code, same WARC records",
    ),
    KnownChange(
        "run report fields",
        rf'failures\[\S+/post_3900202\.html\]: (null != "{_DUPLICATE}"|"{_DUPLICATE}" != null)',
        "issue 9 (736beeb, i9-scope) reported a redirect the duplicate filter drops as a "
        "failure, so whether the 301 to a page also linked directly failed depended on the "
        "order of concurrent responses; since then only a redirect loop is reported, and this "
        "entry matches older revisions of that window only; same WARC records",
        varies_between_runs=True,
    ),
)


@dataclass
class Aspect:
    """One compared aspect: how many items on each side, and the differences found."""

    name: str
    before: int
    after: int
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    explained: list[str] = field(default_factory=list)  # known changes, with their why

    @property
    def same(self) -> bool:
        return not self.differences


def normalize_export(jsonl: str) -> list[dict[str, Any]]:
    """Export lines as records sorted by url, minus the volatile capture fields."""
    records = []
    for line in jsonl.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        for key in VOLATILE_RECORD_FIELDS:
            record.pop(key, None)
        capture = record.get("capture")
        if isinstance(capture, dict):
            record["capture"] = {
                k: v for k, v in capture.items() if k not in VOLATILE_CAPTURE_FIELDS
            }
        records.append(record)
    return sorted(records, key=lambda r: (str(r.get("url")), json.dumps(r, sort_keys=True)))


def _field_diffs(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as `path: before != after` lines."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a:
                out.append(f"{sub}: only after")
            elif key not in b:
                out.append(f"{sub}: only before")
            else:
                out += _field_diffs(a[key], b[key], sub)
        return out
    if a != b:
        return [f"{path}: {_short(a)} != {_short(b)}"]
    return []


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compare_exports(before: str, after: str) -> Aspect:
    """Aspect 2: the normalized exports, record by record."""
    a, b = normalize_export(before), normalize_export(after)
    aspect = Aspect("export records", len(a), len(b))
    by_url_a: dict[str, list[dict]] = defaultdict(list)
    by_url_b: dict[str, list[dict]] = defaultdict(list)
    for r in a:
        by_url_a[str(r.get("url"))].append(r)
    for r in b:
        by_url_b[str(r.get("url"))].append(r)
    for url in sorted(set(by_url_a) | set(by_url_b)):
        ra, rb = by_url_a.get(url, []), by_url_b.get(url, [])
        if not rb:
            aspect.differences.append(f"{url}: only before")
        elif not ra:
            aspect.differences.append(f"{url}: only after")
        elif len(ra) != len(rb):
            aspect.differences.append(f"{url}: {len(ra)} records before, {len(rb)} after")
        else:
            for x, y in zip(ra, rb, strict=True):
                aspect.differences += [f"{url}: {d}" for d in _field_diffs(x, y)]
    return aspect


def _mask_session(name: str, value: str) -> str:
    # `JSESSIONID=ABC; Path=/` -> `JSESSIONID=*; Path=/`: names and attributes stay.
    if name.lower() == "set-cookie":
        first, sep, rest = value.partition(";")
        return re.sub(r"=.*", "=*", first) + sep + rest
    return "; ".join(re.sub(r"=.*", "=*", part) for part in value.split("; "))


def normalize_http_headers(headers: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """HTTP header lines in order, minus Date-like ones, session values masked."""
    lines = []
    for name, value in headers:
        low = name.lower()
        if low in DATE_HEADERS:
            continue
        if low in SESSION_HEADERS:
            value = _mask_session(name, value)
        lines.append(f"{name}: {value}")
    return tuple(lines)


def normalize_record(record: Any) -> tuple[str, tuple[str, ...]]:
    """One warcio record as (target URI or `(warcinfo)`, its comparable lines)."""
    rec = record.rec_headers
    kind = rec.get_header("WARC-Type")
    run_record = RUN_RECORD.match(rec.get_header("WARC-Target-URI") or "")
    if run_record:  # the run's own report or log: one of each, whatever it says
        uri = f"urn:dgarchive:run:*:{run_record.group(1)}"
        return uri, (f"WARC-Type: {kind}", f"Content-Type: {rec.get_header('Content-Type')}")
    lines = [f"{h}: {rec.get_header(h)}" for h in WARC_VALUE_HEADERS if rec.get_header(h)]
    present = sorted(
        name for name, _ in rec.headers if name not in WARC_VALUE_HEADERS
    )  # ids, dates, lengths, block digests: presence only
    lines.append("present: " + ",".join(present))
    if record.http_headers is not None:
        lines.append("http: " + record.http_headers.statusline)
        lines += normalize_http_headers(record.http_headers.headers)
    if kind == "warcinfo":
        text = record.content_stream().read().decode("utf-8", "replace")
        for line in text.splitlines():
            key = line.partition(":")[0].strip().lower()
            if line.strip() and key not in VOLATILE_WARCINFO_FIELDS:
                lines.append("info: " + line)
        return "(warcinfo)", tuple(lines)
    if kind == "metadata":
        lines.append(f"metadata: {len(record.content_stream().read())} bytes")
    return rec.get_header("WARC-Target-URI") or f"({kind})", tuple(lines)


def iter_warc_files(archive: Path) -> list[Path]:
    return sorted(p for p in archive.iterdir() if p.name.endswith((".warc.gz", ".warc")))


def read_archive(archive: Path) -> dict[str, Counter[tuple[str, ...]]]:
    """Every record of an archive's WARC files, as a multiset per target URI."""
    out: dict[str, Counter[tuple[str, ...]]] = defaultdict(Counter)
    for path in iter_warc_files(archive):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                uri, lines = normalize_record(record)
                out[uri][lines] += 1
    return dict(out)


def compare_warcs(
    before: dict[str, Counter[tuple[str, ...]]], after: dict[str, Counter[tuple[str, ...]]]
) -> Aspect:
    """Aspect 3: the multisets of normalized records, URI by URI."""
    count = lambda side: sum(sum(c.values()) for c in side.values())  # noqa: E731
    aspect = Aspect("WARC records", count(before), count(after))
    aspect.notes.append(f"{len(before)} / {len(after)} target URIs")
    other_referer = 0
    for uri in sorted(set(before) | set(after)):
        a, b = before.get(uri, Counter()), after.get(uri, Counter())
        if a == b:
            continue
        if _without_referer(a) == _without_referer(b):
            # A page linked from several pages (the page bar links each list page from
            # up to ten others) is requested from whichever of them was parsed first, which
            # depends on the order of concurrent responses, not on the code: counted, shown.
            other_referer += 1
            continue
        for lines, n in sorted((a - b).items()):
            aspect.differences.append(f"{uri}: {n}x only before: {' | '.join(lines)}")
        for lines, n in sorted((b - a).items()):
            aspect.differences.append(f"{uri}: {n}x only after: {' | '.join(lines)}")
    if other_referer:
        aspect.notes.append(
            f"{other_referer} URIs requested from another linking page (only Referer differs)"
        )
    return aspect


def _without_referer(records: Counter[tuple[str, ...]]) -> Counter[tuple[str, ...]]:
    out: Counter[tuple[str, ...]] = Counter()
    for lines, n in records.items():
        out[tuple(line for line in lines if not line.startswith("Referer: "))] += n
    return out


def report_counters(report: dict[str, Any]) -> dict[str, Any]:
    """The compared part of a run report; failures as url -> reason (their order is timing)."""
    out = {k: report[k] for k in REPORT_FIELDS if k in report}
    if "failures" in out:
        out["failures"] = {f.get("url"): f.get("reason") for f in out["failures"]}
    return out


def compare_reports(before: dict[str, Any], after: dict[str, Any]) -> Aspect:
    """Aspect 4: the run reports' counters."""
    a, b = report_counters(before), report_counters(after)
    aspect = Aspect("run report fields", len(a), len(b))
    for key in REPORT_FIELDS:
        if key not in a and key not in b:
            continue
        if key not in a or key not in b:
            aspect.differences.append(f"{key}: only {'after' if key in b else 'before'}")
            continue
        if key == "bytes_written" and a[key] != b[key]:
            drift = abs(a[key] - b[key]) / max(a[key], b[key], 1)
            note = f"bytes_written {a[key]} vs {b[key]} ({drift:.4%})"
            if drift <= BYTES_TOLERANCE:
                aspect.notes.append(note + " within tolerance")
            else:
                aspect.differences.append(note)
            continue
        if key == "failures":
            for url in sorted(set(a[key]) | set(b[key])):
                ra, rb = a[key].get(url), b[key].get(url)
                if ra != rb:
                    # In full: a known change is matched on the whole reason.
                    full = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731
                    aspect.differences.append(f"failures[{url}]: {full(ra)} != {full(rb)}")
        elif a[key] != b[key]:
            aspect.differences.append(f"{key}: {_short(a[key])} != {_short(b[key])}")
    return aspect


def compare_exit_codes(before: dict[str, int], after: dict[str, int]) -> Aspect:
    """Aspect 1: each command's exit code."""
    aspect = Aspect("exit codes", len(before), len(after))
    for cmd in sorted(set(before) | set(after)):
        if before.get(cmd) != after.get(cmd):
            aspect.differences.append(f"{cmd}: {before.get(cmd)} != {after.get(cmd)}")
    aspect.notes.append(", ".join(f"{c}={before.get(c)}" for c in sorted(before)))
    return aspect


def explain(aspects: list[Aspect], known: Iterable[KnownChange] = KNOWN_CHANGES) -> None:
    """Move the differences a known change accounts for into `explained`, with its why."""
    known = list(known)
    for asp in aspects:
        rest = []
        for diff in asp.differences:
            change = next(
                (k for k in known if k.aspect == asp.name and re.fullmatch(k.pattern, diff)),
                None,
            )
            if change is None:
                rest.append(diff)
            else:
                asp.explained.append(f"{diff}\n      why: {change.why}")
        asp.differences = rest


def format_table(aspects: list[Aspect], limit: int = 40) -> str:
    """A readable table, then every difference (up to `limit` per aspect)."""
    rows = [("aspect", "before", "after", "differences", "known changes", "notes")]
    for asp in aspects:
        rows.append(
            (asp.name, str(asp.before), str(asp.after), str(len(asp.differences)),
             str(len(asp.explained)), "; ".join(asp.notes))
        )  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    out = []
    for r in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5])
    for asp in aspects:
        for title, lines in (("differences", asp.differences), ("known changes", asp.explained)):
            if lines:
                out.append(f"\n{asp.name}: {len(lines)} {title}")
                out += ["  " + d for d in lines[:limit]]
                if len(lines) > limit:
                    out.append(f"  … and {len(lines) - limit} more")
    out.append(f"\nverdict: {verdict(aspects)}")
    return "\n".join(out)


def verdict(aspects: list[Aspect]) -> str:
    if not all(a.same for a in aspects):
        return "DIFFERENT"
    if any(a.explained for a in aspects):
        return "IDENTICAL EXCEPT KNOWN CHANGES"
    return "IDENTICAL"
