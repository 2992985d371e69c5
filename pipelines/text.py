"""Text helpers, the one home: OpenCC script conversion (one converter, locked), script
detection, a line's whitespace (`normalize_space`) and the content hash's (`normalize_text`).
Pure: strings in, strings out; no Scrapy, no database."""

from __future__ import annotations

import operator
import re
import threading
import unicodedata
from functools import lru_cache

import opencc

__all__ = [
    "SCRIPT_SAMPLE",
    "detect_script",
    "normalize_space",
    "normalize_text",
    "to_simplified",
]

_T2S_LOCK = threading.Lock()  # one OpenCC converter, shared by the crawl, the writer and readers


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str | None) -> str | None:
    """OpenCC traditional-to-simplified copy of `text` (the store keeps it for search only;
    it is never exported)."""
    if not text:
        return text
    with _T2S_LOCK:
        return _t2s().convert(text)


def normalize_text(value: str) -> str:
    """Unicode NFC, `\\n` line endings, runs of whitespace as one space, no blank lines."""
    if type(value) is str and _is_normal(value):
        return value  # the usual case (cleaned records): checked in C, nothing to rebuild
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    lines = (" ".join(line.split()) for line in value.split("\n"))
    return "\n".join(line for line in lines if line)


def _is_normal(value: str) -> bool:
    """Whether `normalize_text(value)` is `value` itself: NFC; no whitespace but single spaces
    inside lines and single `\\n` between them, none at either end. Every character
    `str.split()` cuts at but the space (tabs, CR, NBSP, U+3000, U+2028, ...) is
    non-printable, so `isprintable` once `\\n` is a space rules them out
    (tests/test_content_hash_fast.py checks every code point); then no two spaces in a row
    and none at either end mean each line is its own `" ".join(line.split())`, and no line
    is blank. Four passes in C over the text."""
    spaced = value.replace("\n", " ")  # `value` itself when it has no `\n`
    return (
        spaced.isprintable()
        and "  " not in spaced
        and not spaced.startswith(" ")
        and not spaced.endswith(" ")
        and unicodedata.is_normalized("NFC", value)
    )


# NBSP, U+3000 (the CMS indents paragraphs with it) and the other Unicode spaces are all
# whitespace to str.split(); zero-width characters are not, and are removed first.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_ZERO_WIDTH_RE = re.compile(f"[{_ZERO_WIDTH}]")


def normalize_space(text: str) -> str:
    """One line: Unicode spaces to ASCII, zero-width characters out, runs collapsed, stripped."""
    for ch in _ZERO_WIDTH:  # substring tests: far cheaper than a regex scan of every line
        if ch in text:
            text = _ZERO_WIDTH_RE.sub("", text)
            break
    return " ".join(text.split())


SCRIPT_SAMPLE = 240  # characters of title + text checked for script: ~60 differ if hant
_HANT_SHARE = 0.05  # share of Han characters OpenCC t2s changes above which a page is hant


def detect_script(text: str) -> str:
    """`hant` when OpenCC's traditional-to-simplified conversion changes many characters.

    Simplified text comes back unchanged (the common case, settled by one comparison);
    traditional text changes in a quarter or more of its characters.
    """
    sample = text[:SCRIPT_SAMPLE]
    if sample.isascii():
        return "hans"
    converted = to_simplified(sample)
    if converted == sample:
        return "hans"
    changed = sum(map(operator.ne, sample, converted))
    # Non-ASCII characters, from the UTF-8 length: CJK take 3 bytes, ASCII 1 (C speed).
    wide = (len(sample.encode("utf-8")) - len(sample)) // 2
    return "hant" if changed >= 2 and changed >= wide * _HANT_SHARE else "hans"
