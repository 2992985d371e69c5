"""The one record definition (`pipelines.records`) matches what the code writes, key for key
and in order: the JSON record's key order is part of what export must keep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.pages import extract_record
from pipelines.records import (
    CAPTURE_FIELDS,
    ArticleRecord,
    CaptureLocation,
    Guest,
    Interview,
    Section,
    Turn,
)

PAGES = Path(__file__).parent / "fixtures" / "pages"


def _keys(typed: type) -> tuple[str, ...]:
    """A TypedDict's required keys in declaration order."""
    return tuple(k for k in typed.__annotations__ if k in typed.__required_keys__)


def _page(name: str) -> dict:
    meta = json.loads((PAGES / name / "meta.json").read_text(encoding="utf-8"))
    html = PAGES / name / "input.html"
    body = (html if html.exists() else PAGES / name / "input.txt").read_bytes()
    return extract_record(body, meta["url"])


@pytest.mark.parametrize("name", sorted(p.name for p in PAGES.iterdir() if p.is_dir()))
def test_extract_gives_the_record_fields_in_their_order(name: str) -> None:
    assert tuple(_page(name)) == _keys(ArticleRecord)


def test_the_interview_parts_have_their_declared_keys() -> None:
    interview = _page("interview_000_server_hans")["interview"]
    assert tuple(interview) == _keys(Interview)
    assert interview["guests"] and interview["sections"] and interview["turns"]
    assert all(tuple(g) == _keys(Guest) for g in interview["guests"])
    assert all(tuple(s) == _keys(Section) for s in interview["sections"])
    assert all(tuple(t) == _keys(Turn) for t in interview["turns"])


def test_capture_fields_are_the_capture_location_keys() -> None:
    assert CAPTURE_FIELDS == _keys(CaptureLocation)
    assert CAPTURE_FIELDS[:4] == ("warc_filename", "warc_offset", "warc_length", "warc_record_id")
    assert ArticleRecord.__optional_keys__ == {"town", "column_path", "capture"}
