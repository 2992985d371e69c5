"""Read captures back from WARC files, for `dgarchive extract` and `reindex`. No Scrapy imports.

`iter_captures(path)` yields one `Capture` per response or revisit record, with the payload
decoded from its Content-Encoding and the fetch URL mapped back to its canonical
www.dg.gov.cn URL by the `dgarchive-site-root` of the file's warcinfo.
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParserException

from crawler.config import CANONICAL_ROOT, ConfigError, SiteMap
from pipelines.warcfile import capture_location, record_status


class WarcReadError(Exception):
    """A WARC file that cannot be read (missing, not a WARC, corrupt or digest mismatch)."""


@dataclass
class Capture:
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


def iter_captures(path: str | os.PathLike, *, check_digests: bool = True) -> Iterator[Capture]:
    """Yield the response and revisit records of one WARC file (`.warc.gz` or `.warc`).

    Raises WarcReadError for a file that cannot be opened or parsed, and (with
    `check_digests`) for a record whose block digest does not match.
    """
    path = os.fspath(path)
    name = os.path.basename(path)
    sitemap = SiteMap(CANONICAL_ROOT)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise WarcReadError(f"cannot open {path}: {exc.strerror}") from exc
    with fh:
        it = ArchiveIterator(fh, check_digests=check_digests)
        pending: Capture | None = None  # a 304 revisit, until its metadata record is read
        try:
            for record in it:
                if record.format != "warc":  # warcio also reads ARC, and guesses loosely
                    raise WarcReadError(f"{path}: not a WARC file (found {record.format})")
                rec_type = record.rec_type
                if rec_type == "warcinfo":
                    fields = _warc_fields(record.raw_stream.read())
                    sitemap = _sitemap(fields.get("dgarchive-site-root"), path)
                    continue
                if rec_type == "metadata" and pending is not None:
                    refers = record.rec_headers.get_header("WARC-Refers-To")
                    if refers == pending.capture["warc_record_id"]:
                        pending.http_headers = _not_modified_head(record.raw_stream.read())
                        yield pending
                        pending = None
                    continue
                if rec_type not in ("response", "revisit"):
                    continue
                if pending is not None:
                    yield pending
                    pending = None
                payload = record.raw_stream.read() if rec_type == "response" else None
                if check_digests and record.digest_checker.passed is False:
                    problems = "; ".join(record.digest_checker.problems)
                    raise WarcReadError(
                        f"{path}: digest mismatch in record at offset "
                        f"{it.get_record_offset()}: {problems}"
                    )
                location = capture_location(
                    record, name, it.get_record_offset(), it.get_record_length()
                )
                capture = _capture(record, payload, location, sitemap)
                if rec_type == "revisit" and record.http_headers is None:
                    pending = capture
                else:
                    yield capture
            if pending is not None:
                yield pending
        except (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, zlib.error) as exc:
            raise WarcReadError(f"{path}: not a readable WARC file: {exc}") from exc
        except ValueError as exc:  # e.g. a non-numeric Content-Length
            raise WarcReadError(f"{path}: malformed WARC record: {exc}") from exc


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


def _capture(record, payload: bytes | None, location: dict, sitemap: SiteMap) -> Capture:
    head = record.http_headers
    content_type = head.get_header("Content-Type") if head else None
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
    return Capture(
        warc_type=record.rec_type,
        target_uri=target,
        canonical_url=sitemap.to_canonical(target) if target else target,
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


def _sitemap(site_root: str | None, path: str) -> SiteMap:
    if not site_root:
        return SiteMap(CANONICAL_ROOT)
    try:
        return SiteMap(site_root)
    except ConfigError as exc:
        raise WarcReadError(f"{path}: bad dgarchive-site-root in warcinfo: {exc}") from exc
