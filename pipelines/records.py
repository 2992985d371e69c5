"""The record types, the one definition: the article record and its capture location.

`ArticleRecord` is the contract's JSON record (docs/architecture.md, the `dgarchive`
contract) and `CaptureLocation` its `capture`: the spider, the store, export, reindex and the
tests use these, and `CAPTURE_FIELDS` wherever the capture's fields are listed. They are
TypedDicts: at run time a record is a plain dict, so the JSON and the database are what they
were; the types name the keys once and let a checker hold every writer to them.

Types only, no imports of the project: the page objects (`pipelines.pages`) build records of
these types and the store reads them, so both may import this module.
"""

from __future__ import annotations

from typing import Literal, TypedDict

__all__ = [
    "CAPTURE_FIELDS",
    "Anomaly",
    "ArticleRecord",
    "CaptureLocation",
    "CrawlCapture",
    "Guest",
    "Image",
    "Interview",
    "Section",
    "Turn",
]


class Image(TypedDict):
    """A content image of the article (no logos or navigation icons)."""

    src: str  # absolute http(s) URL, as the page links it
    alt: str  # the `alt` (else `title`) text, whitespace normalised; "" when none


class Anomaly(TypedDict):
    """Something an archivist should know about the page."""

    kind: str  # e.g. hidden_offsite_link, body_not_found, invalid_date, unknown_charset
    detail: str  # one line, human-readable


class Guest(TypedDict):
    """One guest of the 访谈嘉宾 line."""

    name: str  # the name the guest speaks under in the transcript
    title: str  # the rest of the guest's part of the line; "" when none


class Section(TypedDict):
    """A 关键词N line of an interview and the headline under it."""

    label: str  # 关键词1, 关键词一, ... (spaces removed)
    topic: str  # after the colon
    headline: str | None  # the line under the label; None when another label or turn follows


class Turn(TypedDict):
    """One speaker's turn: the paragraph after the speaker's colon and those up to the next."""

    speaker: str
    role: Literal["host", "guest"]  # host: the interviewer (a media outlet); guest: a guest
    text: str  # one paragraph a line, the speaker prefix left out
    section: int | None  # index into `sections` of the section the turn falls in


class Interview(TypedDict):
    """The `interview` object of an article that is an interview."""

    guests: list[Guest]
    summary: str | None  # after 内容简介 up to the 访谈记录 label, one paragraph a line
    sections: list[Section]
    turns: list[Turn]


class CaptureLocation(TypedDict):
    """The record's `capture`: where the response that gave the record is archived."""

    warc_filename: str  # file name only, no directory
    warc_offset: int  # byte offset of the record (its gzip member) in the file
    warc_length: int  # bytes of the record (its gzip member)
    warc_record_id: str  # `<urn:uuid:...>`, the WARC-Record-ID
    payload_digest: str | None  # `sha1:<base32>`, the WARC-Payload-Digest
    fetched_at: str | None  # the WARC-Date, UTC `...Z`
    target_uri: str | None  # the URL fetched (on a mirror: the mirror's URL)
    status: int | None  # the HTTP status (304 for a server-not-modified revisit)


# The capture's field names, in the order of the record and the CSV export: the one list.
CAPTURE_FIELDS: tuple[str, ...] = tuple(CaptureLocation.__annotations__)


class CrawlCapture(CaptureLocation, total=False):
    """A `capture` as the crawl and `reindex` hand it to the store: the location, plus the
    response's validators for the next conditional request (stored, never exported)."""

    etag: str | None
    last_modified: str | None
    warc_type: str  # "response" unless given; the store writes "revisit" for a revisit
    fetch_url: str | None  # an older name of `target_uri`, still read


class _ArticleFields(TypedDict):
    url: str  # canonical (www.dg.gov.cn) URL
    site: str | None  # the site's name, e.g. 中国东莞厚街镇
    column: str | None  # the column's name, e.g. 图说厚街
    title: str | None  # from the article (meta, <ucaptitle>, heading), never from <title>
    published_at: str | None  # ISO 8601 with +08:00; seconds :00 when the page gives none
    source: str | None  # 来源
    script: Literal["hans", "hant"]  # the page's own script; nothing is translated
    text: str  # clean body text, one paragraph a line, no boilerplate
    images: list[Image]
    interview: Interview | None  # None for an article that is not an interview
    anomalies: list[Anomaly]


class ArticleRecord(_ArticleFields, total=False):
    """The contract record. `extract` of an HTML file gives the fields above; the crawl and
    `reindex` add `town` and `column_path`, and `capture` once the response is archived;
    export gives the fields above plus `capture`."""

    town: str  # the town's slug in crawler/towns.toml, e.g. houjie
    column_path: str  # the column's path under the site root, e.g. houjie/cjjs/tshj/
    capture: CrawlCapture
