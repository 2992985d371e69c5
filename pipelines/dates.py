"""Dates and times, the one home: China time for the site, UTC "…Z" for WARC and reports.

Pure, standard library only. Every module that formats or parses a timestamp uses these, so
the database, the WARC headers, the run report and the logs agree to the character.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

CHINA = timezone(timedelta(hours=8), "CST")  # the site's dates are China time (UTC+8)


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """`moment` made aware: a naive one (as SQLite's DateTime columns return) is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def utc_z(moment: datetime, timespec: str = "seconds") -> str:
    """`2026-11-22T00:15:00Z`: UTC with a `Z`, to `timespec` ("seconds", "milliseconds")."""
    if moment.tzinfo is None:
        raise ValueError("a UTC timestamp needs an aware datetime")
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def utc_z_exact(moment: datetime) -> str:
    """`2026-11-22T00:15:00.5Z`: like `utc_z`, with fractional seconds only when present."""
    moment = moment.astimezone(UTC)
    out = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        out += f".{moment.microsecond:06d}".rstrip("0")
    return out + "Z"


def iso_china(moment: datetime) -> str:
    """`2023-02-27T10:14:00+08:00`, the record's `published_at` form."""
    return moment.astimezone(CHINA).isoformat()


def parse_iso(value: Any, naive_tz: timezone = UTC) -> datetime | None:
    """An aware datetime from an ISO 8601 string (a trailing `Z` too) or a datetime; None if
    absent or unparseable. A value without an offset is taken to be in `naive_tz`."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=naive_tz)
