"""The enumerations the tables' CHECK constraints enforce, and `validate_record`, which refuses
a record the store cannot take before it reaches a batch.

Imports neither SQLAlchemy nor the models: the crawl process validates every item before it
hands it to the writer process, and it has no other use for the ORM (docs/architecture.md,
"Start-up"). `pipelines.store.declarative` declares the constraints from these same tuples.
"""

from __future__ import annotations

from typing import Any

from pipelines.dates import parse_iso

__all__ = ["ARTICLE_STATUSES", "ROLES", "SCRIPTS", "WARC_TYPES", "dicts", "validate_record"]

ROLES = ("host", "guest")  # interview_turns.role
SCRIPTS = ("hans", "hant")  # articles.script, article_versions.script
WARC_TYPES = ("response", "revisit")  # captures.warc_type
ARTICLE_STATUSES = ("live", "gone", "moved")  # articles.status


def dicts(value: Any) -> list[dict]:
    """The dicts of a list field (anything else in it, or a non-list, is ignored)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def validate_record(record: Any) -> None:
    """Raise ValueError for an item the store cannot take (no URL, a capture without time)."""
    if not isinstance(record, dict):
        raise ValueError(f"record is not a dict: {type(record).__name__}")
    url = record.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ValueError("record has no url")
    capture = record.get("capture")
    if capture:  # an empty capture (WARC writing off) is no capture
        if not isinstance(capture, dict):
            raise ValueError(f"capture of {url} is not a dict")
        if parse_iso(capture.get("fetched_at")) is None:
            raise ValueError(f"capture of {url} has no valid fetched_at")
        if capture.get("warc_type") not in (None, "", *WARC_TYPES):
            raise ValueError(f"capture of {url} has warc_type {capture.get('warc_type')!r}")
    # The enumerations the tables' CHECK constraints hold: refused here with a reason, not
    # by the database in the middle of a batch.
    script = record.get("script")
    if script not in (None, "", *SCRIPTS):
        raise ValueError(f"script of {url} is {script!r}, not one of {', '.join(SCRIPTS)}")
    interview = record.get("interview")
    turns = dicts(interview.get("turns")) if isinstance(interview, dict) else []
    for turn in turns:
        if turn.get("role") not in ROLES:
            raise ValueError(
                f"a turn of {url} has role {turn.get('role')!r}, not one of {', '.join(ROLES)}"
            )
