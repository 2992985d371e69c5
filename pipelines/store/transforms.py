"""Pure record transforms: contract record <-> rows (versions, captures), the content hash,
validation, and the date forms of the contract. No session, no I/O."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

from pipelines.dates import CHINA, iso_china, parse_iso
from pipelines.dates import utc_z_exact as iso_utc
from pipelines.records import CaptureLocation, CrawlCapture
from pipelines.store.models import (
    Article,
    ArticleVersion,
    Capture,
    Interview,
)
from pipelines.store.paths import column_path_of
from pipelines.store.validation import dicts as dicts
from pipelines.store.validation import validate_record as validate_record
from pipelines.text import normalize_text, to_simplified

__all__ = [
    "CHINA",
    "NOT_CONTENT",
    "capture_record",
    "capture_row",
    "column_path_of",
    "content_hash",
    "fidelity_extra",
    "iso_china",
    "iso_utc",
    "jsonable",
    "make_current",
    "validate_record",
    "version_record",
]

# Item keys that are not page content: they never enter the content hash or a version.
# `town` and `column_path` (set by the spider) say where the article was listed; `revisit`
# marks an item that only confirms a stored article (see `record_revisit`).
# The export's sync keys (`article_id`, `version`, `content_hash`, `status`) describe the
# stored article, not the page: an exported record saved again is the same content.
NOT_CONTENT = frozenset(
    {
        "url",
        "capture",
        "town",
        "column_path",
        "revisit",
        "article_status",
        "article_id",
        "version",
        "content_hash",
        "status",
    }
)


def _normalized(value: Any) -> Any:
    """`value` with its strings normalized and its empty fields dropped (for the hash)."""
    if isinstance(value, str):
        return normalize_text(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if type(item) is str:  # most fields: their check inline, no call of this
                norm = normalize_text(item)
                if norm:
                    out[key] = norm
            elif item is not None:
                norm = _normalized(item)
                if norm not in (None, "", [], {}):
                    out[key] = norm
        return out
    if isinstance(value, list | tuple):
        return [_normalized(v) for v in value]
    return value


def content_hash(record: dict) -> str:
    """`sha256:…` of the record's content, normalized so that what a reader would not call a
    change is not one: Unicode NFC, line endings, runs of whitespace, blank lines, empty
    fields, and the offset `published_at` is written in. URL, capture and town are not
    content."""
    content = {k: v for k, v in record.items() if k not in NOT_CONTENT}
    published = parse_iso(content.get("published_at"), CHINA)
    if published is not None:
        content["published_at"] = iso_utc(published)
    blob = json.dumps(
        _normalized(content), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def as_int(value: Any) -> int | None:
    """An int for an integer column; None when absent or not a number."""
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def clean_text(value: Any) -> str | None:
    """A string for a text column: PostgreSQL refuses NUL characters (the version's `extra`
    keeps the exact value when this changes it)."""
    if value is None:
        return None
    return str(value).replace("\x00", "")


def capture_record(capture: Capture) -> CaptureLocation:
    """The export's `capture` (`pipelines.records.CaptureLocation`), from a captures row."""
    return CaptureLocation(
        warc_filename=capture.warc_filename,
        warc_offset=capture.warc_offset,
        warc_length=capture.warc_length,
        warc_record_id=capture.warc_record_id,
        payload_digest=capture.payload_digest,
        fetched_at=iso_utc(capture.fetched_at),
        target_uri=capture.fetch_url,
        status=capture.status,
    )


def _interview_record(interview: Interview) -> dict[str, Any]:
    return {
        "guests": [{"name": g.person.name, "title": g.title} for g in interview.guests],
        "summary": interview.summary,
        "sections": [
            {"label": s.label, "topic": s.topic, "headline": s.headline} for s in interview.sections
        ],
        "turns": [
            {
                "speaker": t.speaker,
                "role": t.role,
                "text": t.text,
                "section": t.section.position if t.section is not None else None,
            }
            for t in interview.turns
        ],
    }


def version_record(version: ArticleVersion, url: str) -> dict[str, Any]:
    """The contract record (without `capture`) of a stored version, exactly as it was saved."""
    record: dict[str, Any] = {
        "url": url,
        "site": version.site,
        "column": version.column_label,
        "title": version.title,
        "published_at": iso_china(version.published_at) if version.published_at else None,
        "source": version.source,
        "script": version.script,
        "text": version.text,
        "images": [{"src": i.src, "alt": i.alt} for i in version.images],
        "interview": _interview_record(version.interview) if version.interview else None,
        "anomalies": [{"kind": a.kind, "detail": a.detail} for a in version.anomalies],
    }
    extra = version.extra or {}
    for key in extra.get("absent", ()):
        record.pop(key, None)
    record.update(extra.get("fields", {}))
    if "fields_json" in extra:
        record.update(json.loads(extra["fields_json"]))
    return record


def capture_row(capture: CrawlCapture, url: str, run_id: str | None) -> Capture:
    """A captures row from a record's `capture` dict."""
    return Capture(
        url=url,
        fetch_url=clean_text(capture.get("target_uri") or capture.get("fetch_url")),
        fetched_at=parse_iso(capture.get("fetched_at")),
        status=as_int(capture.get("status")),
        warc_type=clean_text(capture.get("warc_type")) or "response",
        warc_filename=clean_text(capture.get("warc_filename")),
        warc_offset=as_int(capture.get("warc_offset")),
        warc_length=as_int(capture.get("warc_length")),
        warc_record_id=clean_text(capture.get("warc_record_id")),
        payload_digest=clean_text(capture.get("payload_digest")),
        etag=clean_text(capture.get("etag")),
        last_modified=clean_text(capture.get("last_modified")),
        crawl_run_id=run_id,
    )


def make_current(article: Article, version: ArticleVersion) -> None:
    """Make `version` the article's current one, with its copies for listing and search."""
    article.current_version = version
    article.content_hash = version.content_hash
    article.title = version.title
    article.published_at = version.published_at
    article.source = version.source
    article.script = version.script
    article.text = version.text
    article.title_simplified = to_simplified(version.title)
    article.text_simplified = to_simplified(version.text)


def fidelity_extra(record: dict, rebuilt: dict) -> dict | None:
    """What the rows cannot give back exactly: record keys whose value the tables would
    change (an unknown key, a missing `alt`, a `published_at` in another offset), kept
    verbatim so that export returns the record as saved."""
    fields = {
        k: v
        for k, v in record.items()
        if k not in NOT_CONTENT and (k not in rebuilt or rebuilt[k] != v)
    }
    absent = [k for k in rebuilt if k not in record and k not in NOT_CONTENT]
    extra: dict[str, Any] = {}
    if fields:
        kept = jsonable(fields)
        text = json.dumps(kept, ensure_ascii=False)
        if "\\u0000" in text:  # a NUL, which PostgreSQL's jsonb refuses: kept as JSON text
            extra["fields_json"] = text
        else:
            extra["fields"] = kept
    if absent:
        extra["absent"] = absent
    return extra or None


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: datetimes as ISO strings, unknown objects as their str()."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
