"""Text helpers, the one home: OpenCC script conversion (one converter, locked), script
detection, a line's whitespace (`normalize_space`) and the content hash's (`normalize_text`).
Pure: strings in, strings out; no Scrapy, no database."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import opencc

__all__ = ["normalize_space", "normalize_text", "to_simplified"]

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
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    lines = (" ".join(line.split()) for line in value.split("\n"))
    return "\n".join(line for line in lines if line)


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
