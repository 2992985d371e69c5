"""Read captures back from WARC files, for `dgarchive extract` and `reindex`. No Scrapy imports.

`read_warc(path)` yields one `ArchivedResponse` per complete response or revisit record, with the
payload decoded from its Content-Encoding and the fetch URL mapped back to its canonical
www.dg.gov.cn URL by the `dgarchive-site-root` of the file's warcinfo, and one `Damage` per
damaged spot (framing and checks in `pipelines.warc.scan`). `iter_captures(path)` is the
strict form: it stops with WarcReadError at the first damage.

How a site root maps URLs is the configuration's business (`crawler.config.canonical_urls`):
the caller passes it in as `canonical_urls`, so this module imports nothing of `crawler`.
"""

from __future__ import annotations

import io
import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from warcio.bufferedreaders import BufferedReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParserException

from pipelines.warc.location import capture_location, record_status
from pipelines.warc.scan import Damage, RawRecord, digest_matches, scan

# A crawl's site root as its warcinfo names it ("" for the canonical site) -> the function that
# maps that crawl's fetch URLs to canonical URLs; ValueError for a root it refuses.
CanonicalUrls = Callable[[str], Callable[[str], str]]


def _as_fetched(site_root: str) -> Callable[[str], str]:
    """The default `CanonicalUrls`: URLs stay as fetched, whatever the site root."""
    return _same_url


def _same_url(url: str) -> str:
    return url


class WarcReadError(Exception):
    """A WARC file that cannot be read (missing, not a WARC, corrupt or digest mismatch)."""


@dataclass
class ArchivedResponse:
    """One response or revisit record.

    `body` is the payload decoded from its Content-Encoding (gzip, deflate, br when
    supported); `payload` the bytes as archived. A revisit record holds no payload: both are
    None, and `refers_to` names the capture it stands for.
    """

    warc_type: str
    target_uri: str
    canonical_url: str
    status: int | None
    content_type: str | None
    encoding: str | None
    http_headers: StatusAndHeaders | None
    body: bytes | None
    payload: bytes | None
    capture: dict
    warc_headers: StatusAndHeaders = field(repr=False)
    refers_to: dict | None = None

    @property
    def is_revisit(self) -> bool:
        return self.warc_type == "revisit"


def read_warc(
    path: str | os.PathLike,
    *,
    check_digests: bool = True,
    site_root: str | None = None,
    canonical_urls: CanonicalUrls = _as_fetched,
) -> Iterator[ArchivedResponse | Damage]:
    """Yield the response and revisit records of one WARC file, and a `Damage` per damaged spot.

    Records are framed and verified by `pipelines.warc.scan.scan` (complete block, no
    `WARC-Truncated`, block digest, whole gzip member), so a cut or garbled record is never
    yielded as a capture, and the records after the damage still are. A response whose HTTP
    payload is shorter than its `Content-Length`, or whose gzip Content-Encoding stops short,
    and (with `check_digests`) one whose payload digest does not match, is a `Damage` too.
    `site_root` maps fetch URLs until the file's own warcinfo is read (for a file whose
    warcinfo is damaged; see `site_root_of`); `canonical_urls` turns a site root into that
    mapping (the default keeps URLs as fetched). Raises WarcReadError only for a file that
    cannot be opened or read, or whose site root `canonical_urls` refuses.
    """
    path = os.fspath(path)
    name = os.path.basename(path)
    to_canonical = _to_canonical(canonical_urls, site_root, path)
    pending: ArchivedResponse | None = None  # a 304 revisit, until its metadata record is read
    try:
        for item in scan(path):
            if isinstance(item, Damage):
                yield item
                continue
            if _record_type(item.data) not in _READ_TYPES:
                continue  # requests, resources: framed and verified by scan, never needed
            try:
                record, payload = _parse(item, check_digests)
            except _BadRecord as exc:
                yield Damage(item.offset, item.end, str(exc))
                continue
            rec_type = record.rec_type
            if rec_type == "warcinfo":
                fields = _warc_fields(payload or b"")
                site = fields.get("dgarchive-site-root")
                to_canonical = _to_canonical(canonical_urls, site, path)
                continue
            if rec_type == "metadata" and pending is not None:
                refers = record.rec_headers.get_header("WARC-Refers-To")
                if refers == pending.capture["warc_record_id"]:
                    pending.http_headers = _not_modified_head(payload or b"")
                    yield pending
                    pending = None
                continue
            if rec_type not in ("response", "revisit"):
                continue
            if pending is not None:
                yield pending
                pending = None
            inflated = None
            if rec_type == "response":
                cut, inflated = _payload_cut_short(record, payload)
                if cut:
                    yield Damage(item.offset, item.end, cut)
                    continue
            location = capture_location(record, name, item.offset, item.length)
            capture = _capture(
                record,
                payload if rec_type == "response" else None,
                location,
                to_canonical,
                inflated,
            )
            if rec_type == "revisit" and record.http_headers is None:
                pending = capture
            else:
                yield capture
        if pending is not None:
            yield pending
    except OSError as exc:
        raise WarcReadError(f"cannot open or read {path}: {exc.strerror or exc}") from exc


def site_root_of(path: str | os.PathLike) -> str | None:
    """The `dgarchive-site-root` of the file's first record, if that is a complete warcinfo.

    None when the first record is damaged or not a warcinfo; "" when it names no site root
    (a crawl of the canonical site).
    """
    for item in scan(path):
        if isinstance(item, Damage) or not item.data.startswith(b"WARC/1."):
            return None
        header, _, block = item.data.partition(b"\r\n\r\n")
        if b"\r\nWARC-Type: warcinfo\r\n" not in header + b"\r\n":
            return None
        return _warc_fields(block).get("dgarchive-site-root", "")
    return None


def iter_captures(
    path: str | os.PathLike,
    *,
    check_digests: bool = True,
    canonical_urls: CanonicalUrls = _as_fetched,
) -> Iterator[ArchivedResponse]:
    """Yield the response and revisit records of one WARC file (`.warc.gz` or `.warc`).

    Raises WarcReadError for a file that cannot be opened, and at the first damaged spot
    (cut or garbled record, digest mismatch, `WARC-Truncated`); `read_warc` reads past damage.
    """
    for item in read_warc(path, check_digests=check_digests, canonical_urls=canonical_urls):
        if isinstance(item, Damage):
            raise WarcReadError(f"{os.fspath(path)}: {describe(item)}")
        yield item


def describe(damage: Damage) -> str:
    """One line for a damaged spot: where it is, how long, why."""
    return f"damaged at byte {damage.offset} ({damage.size} bytes): {damage.reason}"


class _BadRecord(Exception):
    """A framed record warcio cannot parse, or whose payload digest does not match."""


# The record types read_warc yields or reads from; the others (request, resource,
# conversion, continuation) are half the records of a crawl's file and are not parsed.
_READ_TYPES = frozenset({"warcinfo", "metadata", "response", "revisit"})
_WARC_TYPE = re.compile(rb"\r\nWARC-Type:[ \t]*([^\r\n]*)", re.IGNORECASE)


def _record_type(data: bytes) -> str | None:
    """The WARC-Type of a raw record, read from its header alone (None without one)."""
    end = data.find(b"\r\n\r\n")
    m = _WARC_TYPE.search(data, 0, end if end >= 0 else len(data))
    return m.group(1).strip().decode("latin-1").lower() if m else None


# warcio's parser of one record, as its ArchiveIterator sets it up (no HTTP status line
# check, no ARC-to-WARC mapping); stateless, so one serves every record.
_LOADER = ArcWarcRecordLoader(verify_http=False, arc2warc=False)


def _parse(raw: RawRecord, check_digests: bool) -> tuple[ArcWarcRecord, bytes]:
    """The warcio record of a verified `RawRecord`, and its payload (block for non-HTTP).

    scan() verified the block digest; the payload digest is checked here, once, on the
    payload as read (warcio's own checking hashes the block a second time, line by line).
    The record is parsed by warcio's record loader straight from the bytes scan() framed
    and inflated: an ArchiveIterator would set up its loader and decompressing reader
    again for every record and read its lines through that reader.
    """
    try:
        record = _LOADER.parse_record_stream(io.BytesIO(raw.data), known_format="warc")
        payload = record.raw_stream.read()
    except (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, ValueError) as exc:
        raise _BadRecord(f"malformed record: {exc}") from None
    # As warcio checks: not a revisit's (it names the payload of the record revisited) nor
    # a segment's (it is the whole payload's).
    headers = record.rec_headers
    if (
        check_digests
        and record.rec_type != "revisit"
        and not headers.get_header("WARC-Segment-Number")
    ):
        digest = headers.get_header("WARC-Payload-Digest")
        if digest and not digest_matches(digest, payload):
            raise _BadRecord(f"digest mismatch: payload digest {digest[:60]} does not match")
    return record, payload


def _payload_cut_short(
    record: ArcWarcRecord, payload: bytes | None
) -> tuple[str | None, bytes | None]:
    """Why an HTTP response's payload is incomplete (or None), and its gzip inflated.

    The crawl archives the entity as received (Transfer-Encoding removed, Content-Encoding
    kept), so a Content-Length it carries counts the archived payload's bytes. The second
    value is the payload inflated when its Content-Encoding is exactly `gzip` and its gzip
    stream ends (the body `_decode` would return, inflated once instead of twice), else None.
    """
    head = record.http_headers
    if head is None or payload is None:
        return None, None
    status = record_status(record)
    if status is None or status < 200 or status in (204, 304):
        return None, None
    declared = (head.get_header("Content-Length") or "").strip()
    if declared.isdigit() and len(payload) < int(declared):
        return (
            f"HTTP payload cut short: {len(payload)} of the {declared} bytes its "
            "Content-Length promises"
        ), None
    encoding = (head.get_header("Content-Encoding") or "").strip().lower()
    if encoding in ("gzip", "x-gzip") and payload[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(zlib.MAX_WBITS | 16)
        try:
            data = d.decompress(payload)
        except zlib.error:
            return None, None  # not really gzip: kept as archived (see _decode)
        if not d.eof:
            return "gzip-encoded HTTP payload cut short (its gzip stream does not end)", None
        # warcio's BufferedReader (`_decode`) yields the same bytes for a stream that ends
        # without error: the first member, whatever follows it. `x-gzip` it keeps as is.
        return None, data if encoding == "gzip" else None
    return None, None


def _not_modified_head(data: bytes) -> StatusAndHeaders | None:
    """The 304 head that `not_modified_records` keeps in warc-fields, back as HTTP headers."""
    protocol, statusline, headers = "", "", []
    for line in data.decode("utf-8", "replace").split("\r\n"):
        key, _, value = line.partition(": ")
        if key == "http-status-line":
            protocol, _, statusline = value.partition(" ")
        elif key == "http-header":
            name, colon, hvalue = value.partition(":")
            if colon:
                headers.append((name, hvalue.strip()))
    if not statusline:
        return None
    return StatusAndHeaders(statusline, headers, protocol=protocol)


def _capture(
    record: ArcWarcRecord,
    payload: bytes | None,
    location: dict,
    to_canonical: Callable[[str], str],
    inflated: bytes | None = None,
) -> ArchivedResponse:
    head = record.http_headers
    content_type = head.get_header("Content-Type") if head else None
    if inflated is not None:
        body = inflated  # the gzip payload, inflated by _payload_cut_short
    else:
        body = _decode(payload, head.get_header("Content-Encoding") if head else None)
    refers_to = None
    if record.rec_type == "revisit":
        h = record.rec_headers
        refers_to = {
            "refers_to_uri": h.get_header("WARC-Refers-To-Target-URI"),
            "refers_to_date": h.get_header("WARC-Refers-To-Date"),
            "refers_to_record_id": h.get_header("WARC-Refers-To"),
            "payload_digest": h.get_header("WARC-Payload-Digest"),
            "profile": h.get_header("WARC-Profile"),
        }
    target = location["target_uri"]
    return ArchivedResponse(
        warc_type=record.rec_type,
        target_uri=target,
        canonical_url=to_canonical(target) if target else target,
        status=record_status(record),
        content_type=content_type,
        encoding=_charset(content_type),
        http_headers=head,
        body=body,
        payload=payload,
        capture=location,
        warc_headers=record.rec_headers,
        refers_to=refers_to,
    )


def _decode(payload: bytes | None, content_encoding: str | None) -> bytes | None:
    """The payload without its Content-Encoding; as archived when it cannot be decoded."""
    if payload is None or not content_encoding:
        return payload
    data = payload
    # Encodings apply in the order listed, so they come off in reverse.
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",")]):
        if coding in ("", "identity"):
            continue
        if coding not in BufferedReader.get_supported_decompressors():
            return payload
        try:
            data = BufferedReader(io.BytesIO(data), decomp_type=coding).read()
        except Exception:  # noqa: BLE001 - a server may label a plain body gzip
            return payload
    return data


def _charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'").lower() or None
    return None


def _warc_fields(data: bytes) -> dict[str, str]:
    fields = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, colon, value = line.partition(":")
        if colon:
            fields.setdefault(key.strip(), value.strip())
    return fields


def _to_canonical(
    canonical_urls: CanonicalUrls, site_root: str | None, path: str
) -> Callable[[str], str]:
    try:
        return canonical_urls(site_root or "")
    except ValueError as exc:
        raise WarcReadError(f"{path}: bad dgarchive-site-root in warcinfo: {exc}") from exc
