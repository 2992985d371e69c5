"""Text helpers shared by extraction and the store: OpenCC script conversion (one converter,
locked) and the whitespace normalisation the content hash relies on. Pure: no Scrapy, no
database."""

from __future__ import annotations

import threading
import unicodedata
from functools import lru_cache

import opencc

__all__ = ["normalize_text", "to_simplified"]

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
