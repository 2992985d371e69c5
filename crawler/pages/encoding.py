"""Page bytes to text: HTTP charset, then <meta>, then sniffing; mojibake repair. Pure.

Order (WHATWG's, less the locale guess): a byte-order mark, the HTTP header's charset, the
`<meta charset>` / `http-equiv` declaration, then sniffing (strict UTF-8, then GB18030).
GBK and GB2312 are read as GB18030, their superset: a GB2312-labelled page routinely holds
GBK-only characters (names, rare place characters), and the strict subset codec would turn
them into replacement characters.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field


class UnreadablePage(ValueError):
    """The body is empty or is not text (binary data): there is no page to extract.

    `extract_record` raises it for such input and for nothing else; `dgarchive extract`
    reports it as a one-line error.
    """


@dataclass
class Decoded:
    text: str
    encoding: str  # the Python codec actually used
    source: str  # where the charset came from: bom, http, meta, sniff
    anomalies: list[dict] = field(default_factory=list)


# Labels the site family uses, mapped to the codec that reads them without loss.
_SUPERSETS = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb_2312": "gb18030",
    "gb_2312-80": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "euc_cn": "gb18030",
    "hz-gb-2312": "gb18030",
    # WHATWG: these labels mean windows-1252 on the web.
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
}
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]{2,40})""", re.IGNORECASE
)
_PRESCAN = 16384  # bytes searched for <meta charset>; long <head>s push it past WHATWG's 1024
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def codec_for(label: str | None) -> str | None:
    """The Python codec for a charset label, or None when the label is unknown."""
    if not label:
        return None
    key = label.strip().strip("\"'").lower()
    key = _SUPERSETS.get(key, key)
    try:
        name = codecs.lookup(key).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def meta_charset(body: bytes) -> str | None:
    m = _META_CHARSET.search(body[:_PRESCAN])
    return m.group(1).decode("ascii") if m else None


def looks_binary(sample: bytes) -> bool:
    """NUL bytes or many control characters: an image, an archive, not a page."""
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32 or b == 127)
    return controls > len(sample) * 0.05


def decode_body(body: bytes | str, http_charset: str | None = None) -> Decoded:
    """Decode a page. Raises `UnreadablePage` for an empty or binary body."""
    if isinstance(body, str):
        if not body.strip():
            raise UnreadablePage("empty page")
        if looks_binary(body[:4096].encode("utf-8", "surrogatepass")):
            raise UnreadablePage("not a text page (binary data)")
        text, detail = repair_mojibake(body)
        anomalies = [{"kind": "mojibake_repaired", "detail": detail}] if detail else []
        return Decoded(text, "str", "str", anomalies)

    if not body or not body.strip():
        raise UnreadablePage("empty page")
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return _finish(body.decode(codec, "replace"), codec, "bom", [])
    if looks_binary(body[:4096]):
        raise UnreadablePage("not a text page (binary data)")

    anomalies: list[dict] = []
    for source, label in (("http", http_charset), ("meta", meta_charset(body))):
        codec = codec_for(label)
        if label and not codec:
            anomalies.append({"kind": "unknown_charset", "detail": f"{source}: {label}"})
        if not codec:
            continue
        return _decode_declared(body, codec, source, label or codec, anomalies)
    return _sniff(body, anomalies)


def _decode_declared(
    body: bytes, codec: str, source: str, label: str, anomalies: list[dict]
) -> Decoded:
    utf8 = _strict(body, "utf-8")
    if codec not in ("utf-8", "utf-8-sig") and utf8 is not None and _non_ascii(utf8) >= 4:
        # Real GB18030/windows-1252 text is almost never valid UTF-8 with multibyte
        # sequences; such a page was mislabelled and the declared charset would garble it.
        anomalies.append(
            {"kind": "mojibake_repaired", "detail": f"{source} says {label}, body is UTF-8"}
        )
        return _finish(utf8, "utf-8", source, anomalies)
    text = _strict(body, codec)
    if text is not None:
        return _finish(text, codec, source, anomalies)
    if utf8 is not None:
        anomalies.append(
            {"kind": "mojibake_repaired", "detail": f"{source} says {label}, body is UTF-8"}
        )
        return _finish(utf8, "utf-8", source, anomalies)
    return _lossy(body, codec, source, anomalies)


def _sniff(body: bytes, anomalies: list[dict]) -> Decoded:
    for codec in ("utf-8", "gb18030"):
        text = _strict(body, codec)
        if text is not None:
            return _finish(text, codec, "sniff", anomalies)
    return _lossy(body, "utf-8", "sniff", anomalies)


def _lossy(body: bytes, codec: str, source: str, anomalies: list[dict]) -> Decoded:
    text = body.decode(codec, "replace")
    bad = text.count("\ufffd")
    anomalies.append(
        {"kind": "decode_errors", "detail": f"{bad} undecodable byte runs replaced ({codec})"}
    )
    return _finish(text, codec, source, anomalies)


def _finish(text: str, codec: str, source: str, anomalies: list[dict]) -> Decoded:
    text, detail = repair_mojibake(text)
    if detail:
        anomalies.append({"kind": "mojibake_repaired", "detail": detail})
    return Decoded(text, codec, source, anomalies)


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _non_ascii(text: str) -> int:
    return sum(1 for ch in text if ord(ch) > 127)


# --- text-level mojibake ------------------------------------------------------------------
# UTF-8 read as windows-1252/latin-1: a lead byte (Ã-ï) then continuation bytes, shown as
# Latin-1 letters and cp1252 punctuation. Repaired per run; a run that does not round-trip
# to valid UTF-8 is left alone, so genuine “quotes” or é stay.
_CP1252_RUN = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6"
    "\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
    "[\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014"
    "\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]*"
)
# UTF-8 read as GBK: full-width punctuation and common characters come out as these
# (，->锛� 。->銆� “->鈥� 的->鐨� 东->涓� 在->鍦�); a line holding several of them is tried.
_GBK_MARKERS = re.compile("[锛銆鈥鐨涓鍦鏄浜鍚闂]")
_GBK_MIN_MARKERS = 3


def repair_mojibake(text: str) -> tuple[str, str | None]:
    """Undo UTF-8-read-as-cp1252 and UTF-8-read-as-GBK where the round trip is exact.

    Returns the text and a description of the repair, or None when nothing was changed.
    """
    fixed_runs = 0

    def fix_run(m: re.Match) -> str:
        nonlocal fixed_runs
        run = m.group(0)
        try:
            out = run.encode("cp1252").decode("utf-8")
        except UnicodeError:
            try:
                out = run.encode("latin-1").decode("utf-8")
            except UnicodeError:
                return run
        fixed_runs += 1
        return out

    detail = None
    if _CP1252_RUN.search(text):
        text = _CP1252_RUN.sub(fix_run, text)
        if fixed_runs:
            detail = f"UTF-8 read as windows-1252 ({fixed_runs} runs)"
    if len(_GBK_MARKERS.findall(text)) >= _GBK_MIN_MARKERS:
        lines = text.split("\n")
        fixed = 0
        for i, line in enumerate(lines):
            if len(_GBK_MARKERS.findall(line)) < 2:
                continue
            try:
                repaired = line.encode("gb18030").decode("utf-8")
            except UnicodeError:
                continue
            lines[i] = repaired
            fixed += 1
        if fixed:
            text = "\n".join(lines)
            part = f"UTF-8 read as GBK ({fixed} lines)"
            detail = f"{detail}; {part}" if detail else part
    return text, detail
