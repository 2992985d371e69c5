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

from pipelines.records import Anomaly


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
    anomalies: list[Anomaly] = field(default_factory=list)


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


def http_charset(content_type: str | bytes | None) -> str | None:
    """The charset label of a Content-Type header, as sent (unknown labels included).

    The one reading of the header that the crawl, `reindex` and `dgarchive extract` share:
    `decode_body` then maps the label (`codec_for`) and reports an unknown one as an
    `unknown_charset` anomaly, so the same bytes decode the same way on every path.
    """
    if not content_type:
        return None
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            label = value.strip().strip("\"'").strip()
            return label or None
    return None


def meta_charset(body: bytes) -> str | None:
    """The charset a `<meta charset>` or `<meta http-equiv>` declares in the page's head."""
    head = body[:_PRESCAN].lower()
    at = head.find(b"charset")
    while at != -1:
        # The regex runs only on the tag around each "charset": a scan of 16 KB would not.
        start = head.rfind(b"<meta", max(0, at - 512), at)
        if start != -1:
            m = _META_CHARSET.match(head, start, at + 64)
            if m:
                return m.group(1).decode("ascii")
        at = head.find(b"charset", at + 7)
    return None


_NOT_CONTROL = bytes(b for b in range(256) if not (b < 9 or 13 < b < 32 or b == 127))


def looks_binary(sample: bytes) -> bool:
    """NUL bytes or many control characters: an image, an archive, not a page."""
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    controls = len(sample.translate(None, _NOT_CONTROL))
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
            return _finish((body.decode(codec, "replace"), 0), codec, "bom", [])
    if looks_binary(body[:4096]):
        raise UnreadablePage("not a text page (binary data)")

    anomalies: list[Anomaly] = []
    declared = []
    for source, label in (("http", http_charset), ("meta", meta_charset(body))):
        codec = codec_for(label)
        if label and not codec:
            anomalies.append({"kind": "unknown_charset", "detail": f"{source}: {label}"})
        elif codec:
            declared.append((source, label, codec))
    if not declared:
        return _sniff(body, anomalies)

    utf8 = _strict(body, "utf-8")
    first_source, first_label, first_codec = declared[0]
    # ISO-8859-1 is many servers' default header, not a statement about the page: any other
    # declaration is tried before it (windows-1252 decodes every byte, so it never "fails").
    for source, label, codec in sorted(declared, key=lambda d: d[2] == "cp1252"):
        if codec not in ("utf-8", "utf-8-sig") and utf8 and _non_ascii(utf8[0]) >= 4:
            # Real GB18030/windows-1252 text is almost never valid UTF-8 with multibyte
            # sequences: such a page was mislabelled and the declared charset would garble it.
            anomalies.append(
                {"kind": "mojibake_repaired", "detail": f"{source} says {label}, body is UTF-8"}
            )
            return _finish(utf8, "utf-8", source, anomalies)
        decoded = utf8 if codec == "utf-8" else _strict(body, codec)
        if decoded:
            if source != first_source:
                anomalies.append(
                    {
                        "kind": "charset_mismatch",
                        "detail": f"{first_source} says {first_label}, body is {label} ({source})",
                    }
                )
            return _finish(decoded, codec, source, anomalies)
    # No declaration decodes the body cleanly: sniff, and say so.
    sniffed = _sniff(body, [])
    if sniffed.encoding != first_codec and not any(
        a["kind"] == "decode_errors" for a in sniffed.anomalies
    ):
        anomalies.append(
            {
                "kind": "charset_mismatch",
                "detail": f"{first_source} says {first_label}, body is {sniffed.encoding}",
            }
        )
        sniffed.anomalies[:0] = anomalies
        return sniffed
    return _lossy(body, first_codec, first_source, anomalies)


def _sniff(body: bytes, anomalies: list[Anomaly]) -> Decoded:
    for codec in ("utf-8", "gb18030"):
        decoded = _strict(body, codec)
        if decoded:
            return _finish(decoded, codec, "sniff", anomalies)
    return _lossy(body, "utf-8", "sniff", anomalies)


def _lossy(body: bytes, codec: str, source: str, anomalies: list[Anomaly]) -> Decoded:
    text = body.decode(codec, "replace")
    bad = text.count("\ufffd")
    anomalies.append(
        {"kind": "decode_errors", "detail": f"{bad} undecodable byte runs replaced ({codec})"}
    )
    return _finish((text, 0), codec, source, anomalies)


def _finish(decoded: tuple[str, int], codec: str, source: str, anomalies: list[Anomaly]) -> Decoded:
    text, pending = decoded
    if pending:
        anomalies.append(
            {
                "kind": "decode_errors",
                "detail": f"incomplete character at the end dropped ({pending} bytes)",
            }
        )
    text, detail = repair_mojibake(text)
    if detail:
        anomalies.append({"kind": "mojibake_repaired", "detail": detail})
    return Decoded(text, codec, source, anomalies)


def _strict(body: bytes, codec: str) -> tuple[str, int] | None:
    """`body` decoded without errors and the count of bytes left pending, or None.

    An incomplete character at the very end (a capture cut inside a multibyte sequence)
    is not an error: it is left out, and `_finish` reports it.
    """
    try:
        decoder = codecs.getincrementaldecoder(codec)()
        text = decoder.decode(body, final=False)
    except (UnicodeDecodeError, LookupError):
        return None
    return text, len(decoder.getstate()[0])


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
# UTF-8 read as GBK: each 3-byte UTF-8 character becomes one and a half GBK characters, and
# every UTF-8 lead byte (E4-E9 for CJK) turns into a GBK lead, giving characters such as
# 鍘 鐨 浜 涓 瀵 璁 at a rate genuine text never shows. Lines where they are frequent are
# tried, and repaired only when the round trip is exact.
_GBK_FROM_UTF8_LEADS = re.compile(
    "["
    + "".join(
        ch
        for lead in range(0xE4, 0xEA)
        for trail in range(0x80, 0xFF)
        for ch in [bytes([lead, trail]).decode("gb18030", "ignore")]
        if len(ch) == 1
    )
    + "]"
)
_CP1252_LEADS = "ãäåæçèéï"
_GBK_MOJIBAKE_SHARE = 0.2  # share of a line's characters; garbled text runs at about 1/3
_GBK_MIN_CHARS = 3
_CP1252_SPECIALS = {
    ch: b for b in range(0x80, 0xA0) for ch in [bytes([b]).decode("cp1252", "ignore")] if ch
}


def _cp1252_bytes(run: str) -> bytes | None:
    """The bytes a WHATWG windows-1252 decoder read as `run` (undefined bytes pass as C1)."""
    out = bytearray()
    for ch in run:
        code = ord(ch)
        if code < 0x100:
            out.append(code)
        elif ch in _CP1252_SPECIALS:
            out.append(_CP1252_SPECIALS[ch])
        else:
            return None
    return bytes(out)


def _has_any(text: str, chars: str) -> bool:
    for ch in chars:
        if ch in text:
            return True
    return False


def repair_mojibake(text: str) -> tuple[str, str | None]:
    """Undo UTF-8-read-as-windows-1252 and UTF-8-read-as-GBK where the round trip is exact.

    Returns the text and a description of the repair, or None when nothing was changed.
    """
    details = []
    # Cheap gates first: plain substring searches for the Latin-1 letters every garbled CJK
    # character starts with (UTF-8 lead bytes E3-E9, EF), then one character-class scan.
    if _has_any(text, _CP1252_LEADS) and _CP1252_RUN.search(text):
        fixed = 0

        def fix_run(m: re.Match) -> str:
            nonlocal fixed
            raw = _cp1252_bytes(m.group(0))
            try:
                out = raw.decode("utf-8") if raw is not None else None
            except UnicodeDecodeError:
                out = None
            if out is None:
                return m.group(0)
            fixed += 1
            return out

        text = _CP1252_RUN.sub(fix_run, text)
        if fixed:
            details.append(f"UTF-8 read as windows-1252 ({fixed} runs)")
    if _GBK_FROM_UTF8_LEADS.search(text) and (
        len(_GBK_FROM_UTF8_LEADS.findall(text)) >= _GBK_MIN_CHARS
    ):
        lines = text.split("\n")
        fixed = 0
        for i, line in enumerate(lines):
            hits = len(_GBK_FROM_UTF8_LEADS.findall(line))
            if hits < _GBK_MIN_CHARS or hits < len(line) * _GBK_MOJIBAKE_SHARE:
                continue
            try:
                lines[i] = line.encode("gb18030").decode("utf-8")
            except UnicodeError:
                continue
            fixed += 1
        if fixed:
            text = "\n".join(lines)
            details.append(f"UTF-8 read as GBK ({fixed} lines)")
    return text, "; ".join(details) or None
