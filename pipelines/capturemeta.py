"""The `request.meta` keys through which `WarcCapture` (pipelines/capture.py) hears from the
download handler and the spider and answers them, and `revisit_of`, the stored capture a fetch
may be a revisit of. Pure: no Scrapy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.warc.builders import RevisitOf

__all__ = [
    "INCOMPLETE_META_KEY",
    "INFLATED_META_KEY",
    "LOCATION_META_KEY",
    "REASON_META_KEY",
    "REVISIT_META_KEY",
    "REVISIT_PROFILE_META_KEY",
    "WIRE_META_KEY",
    "revisit_of",
]

# in, from the download handler (crawler/downloader.py): the reason phrase as received (str),
# and the heads as they crossed the wire (dict: url, status, protocol, reason, headers,
# request_head). The handler imports them from `pipelines.capture`, the side that reads them,
# which re-exports them.
REASON_META_KEY = "http_reason"
WIRE_META_KEY = "http_wire"
REVISIT_META_KEY = "dgarchive_revisit"  # in: the stored capture of the previous fetch
LOCATION_META_KEY = "warc"  # out: the capture location (docs/architecture.md)
REVISIT_PROFILE_META_KEY = "warc_revisit"  # out: the revisit profile, when one was written
# out: why the archived body is not whole (str), absent when it is (pipelines/warc/completeness.py)
INCOMPLETE_META_KEY = "dgarchive_incomplete"
# out, only while a compression middleware that takes it is enabled: (the body as received,
# its inflated bytes) of a whole gzip body, which the capture inflated to judge it
# (pipelines/warc/completeness.py), so that the middleware does not inflate it again.
INFLATED_META_KEY = "dgarchive_inflated"


def revisit_of(meta: Mapping[str, Any]) -> RevisitOf | None:
    """The stored capture a fetch may be a revisit of (`meta[REVISIT_META_KEY]`); None when
    absent or when it names no capture."""
    info = meta.get(REVISIT_META_KEY)
    if not isinstance(info, dict):
        return None
    uri, date = info.get("refers_to_uri"), info.get("refers_to_date")
    if not uri or not date:
        return None  # a revisit that names no capture cannot be resolved by replay tools
    return RevisitOf(
        target_uri=uri,
        date=date,
        record_id=info.get("refers_to_record_id") or None,
        payload_digest=info.get("payload_digest") or None,
    )
