"""The content hash's fast paths (`pipelines.text.normalize_text` returning an already normal
string as it is, `transforms._normalized` normalizing a dict's strings inline) give exactly
what they gave before, for any input: the hash of a stored article must never change."""

from __future__ import annotations

import hashlib
import json
import sys
import unicodedata
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.dates import CHINA, parse_iso
from pipelines.dates import utc_z_exact as iso_utc
from pipelines.store.transforms import NOT_CONTENT, content_hash
from pipelines.text import _is_normal, normalize_text
from tests.conftest_db import interview_record, plain_record


def reference_normalize_text(value: str) -> str:
    """`normalize_text` as it was before its fast path."""
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    lines = (" ".join(line.split()) for line in value.split("\n"))
    return "\n".join(line for line in lines if line)


def reference_normalized(value: Any) -> Any:
    """`transforms._normalized` as it was before its inline string case."""
    if isinstance(value, str):
        return reference_normalize_text(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            norm = reference_normalized(item)
            if norm not in (None, "", [], {}):
                out[key] = norm
        return out
    if isinstance(value, list | tuple):
        return [reference_normalized(v) for v in value]
    return value


def reference_content_hash(record: dict) -> str:
    """`content_hash` as it was, on the reference normalization."""
    content = {k: v for k, v in record.items() if k not in NOT_CONTENT}
    published = parse_iso(content.get("published_at"), CHINA)
    if published is not None:
        content["published_at"] = iso_utc(published)
    blob = json.dumps(
        reference_normalized(content), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def test_every_character_split_cuts_at_but_the_space_is_not_printable():
    """What `_is_normal` rests on, over every code point: a printable character other than
    the space is never one `str.split()` cuts at."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char != " " and char.isprintable():
            assert len(("a" + char + "b").split()) == 1, hex(code)


# Whitespace of every kind, line breaks, combining marks (NFC composes them), zero-width and
# control characters, CJK, astral; and any character at all.
_TRICKY = (
    " \n\r\t\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"
    "\u200b\ufeff\x00\u0301\u0308e\u00e9\u212b\uac00\u1100\u1161aZ厚街東😀"
)
_CHARS = st.one_of(st.sampled_from(_TRICKY), st.characters(blacklist_categories=("Cs",)))
_TEXT = st.text(_CHARS, max_size=40)


class _Str(str):
    pass


@settings(max_examples=1500, deadline=None)
@given(_TEXT)
def test_normalize_text_equals_the_reference(value):
    expected = reference_normalize_text(value)
    assert normalize_text(value) == expected
    assert normalize_text(_Str(value)) == expected
    assert type(normalize_text(_Str(value))) is str
    assert normalize_text(expected) == expected
    if _is_normal(value):  # the fast path: only ever taken for a fixed point
        assert expected == value


# Text as `clean_record` leaves it: lines of printable words separated by single spaces
# (no controls, format, private-use or unassigned characters: those take the full path).
_PRINTABLE = st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Co", "Cn", "Zs", "Zl", "Zp"))
_WORD = st.text(_PRINTABLE, min_size=1)
_CLEAN = st.lists(st.lists(_WORD, min_size=1, max_size=5).map(" ".join), max_size=5).map("\n".join)


@settings(max_examples=500, deadline=None)
@given(_CLEAN)
def test_clean_text_takes_the_fast_path(value):
    value = unicodedata.normalize("NFC", value)
    assert _is_normal(value) == (reference_normalize_text(value) == value)
    assert normalize_text(value) is value or not _is_normal(value)


_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), _TEXT, _CLEAN
)
_VALUE = st.recursive(
    _LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.sampled_from(["a", "b", "text", "title", ""]), inner, max_size=4),
    ),
    max_leaves=20,
)
_RECORD = st.dictionaries(
    st.sampled_from(["title", "text", "source", "images", "interview", "url", "town", "x"]),
    _VALUE,
    max_size=6,
)


@settings(max_examples=800, deadline=None)
@given(_RECORD, st.sampled_from([None, "2025-02-27T13:05:00+08:00", "2025-02-27T05:05:00Z"]))
def test_content_hash_equals_the_reference(record, published_at):
    if published_at is not None:
        record["published_at"] = published_at
    assert content_hash(record) == reference_content_hash(record)


def test_content_hash_of_the_test_records_equals_the_reference():
    records = [plain_record(n) for n in range(1, 6)] + [interview_record()]
    messy = interview_record(2)
    messy["text"] = "\u3000\u3000第一段\r\n\r\n  第二段\t结尾 \n"
    messy["title"] = _Str("  标题 ")
    records.append(messy)
    for record in records:
        assert content_hash(record) == reference_content_hash(record)
