"""HTTP download handler that keeps what Scrapy's Response drops and an archive needs.

Scrapy's Response has no reason phrase, merges repeated headers under one key in first-seen
order, re-capitalizes names and never shows the connection headers (Connection, Keep-Alive,
Transfer-Encoding). The WARC response record must hold the status line and headers as
received, so this handler records them while Twisted parses the response, and puts them in
`request.meta` before the `response_downloaded` signal fires:

- `request.meta["http_reason"]`: the reason phrase as received (str, latin-1), e.g.
  `"Fine Thanks"`; `""` when the server sent none.
- `request.meta["http_wire"]`: a dict with `url` and `status` (to tell it from a copy that
  a redirect or retry carried over to another request), `protocol` (`"HTTP/1.1"`),
  `reason` (bytes), `headers` (list of (name, value) bytes pairs, in received order,
  names as sent, repeated headers repeated), and `request_head` (the request line and
  headers exactly as sent, bytes).

Configure with DOWNLOAD_HANDLERS = {"http": "crawler.downloader.HeadRecordingDownloadHandler",
"https": ...}.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag

from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
    _ScrapyAgent,
)
from scrapy.exceptions import ResponseDataLossError
from scrapy.utils._download_handlers import get_dataloss_msg, wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future

from pipelines.capturemeta import REASON_META_KEY, WIRE_META_KEY

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.core.downloader.handlers.http11 import _ResultT
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IAddress
    from twisted.web._newclient import HTTP11ClientProtocol
    from twisted.web._newclient import Request as TxRequest
    from twisted.web.client import Response as TxResponse
    from twisted.web.iweb import IResponse

logger = logging.getLogger(__name__)


class _HeaderRecordingParser(_LenientHTTPClientParser):
    """Keeps the status line and each header (name as sent, value) in received order."""

    def statusReceived(self, status: bytes) -> None:
        super().statusReceived(status)
        # A new list per status line: a skipped 1xx response starts over.
        self._dgarchive_headers: list[tuple[bytes, bytes]] = []
        self.response._dgarchive_headers = self._dgarchive_headers

    def headerReceived(self, name: bytes, value: bytes) -> None:
        self._dgarchive_headers.append((name, value))
        super().headerReceived(name, value)


class _HeaderRecordingProtocol(_LenientHTTP11ClientProtocol):
    def request(self, request: TxRequest) -> Deferred[IResponse]:
        d = super().request(request)
        # The base class has just swapped the parser class to its lenient one; it holds no
        # state of its own, so the same swap to a subclass is just as safe.
        self._parser.__class__ = _HeaderRecordingParser
        head = sent_request_head(request)

        def _attach_request_head(response: IResponse) -> IResponse:
            # response.request is only an IClientRequest proxy: no uri, no body producer.
            response._dgarchive_request_head = head
            return response

        d.addCallback(_attach_request_head)
        return d


class _HeaderRecordingFactory(_LenientHTTP11ClientFactory):
    def buildProtocol(self, addr: IAddress | None) -> HTTP11ClientProtocol:
        return _HeaderRecordingProtocol(self._quiescentCallback)


def sent_request_head(txrequest: Any) -> bytes:
    """The request line and headers as Twisted writes them (`Request._writeHeaders`)."""
    lines = [b"%s %s HTTP/1.1\r\n" % (txrequest.method, txrequest.uri)]
    if not getattr(txrequest, "persistent", True):
        lines.append(b"Connection: close\r\n")
    producer = getattr(txrequest, "bodyProducer", None)
    if producer is None:
        if txrequest.method in (b"PUT", b"POST"):
            lines.append(b"Content-Length: 0\r\n")
    elif isinstance(getattr(producer, "length", None), int):
        lines.append(b"Content-Length: %d\r\n" % producer.length)
    else:
        lines.append(b"Transfer-Encoding: chunked\r\n")
    for name, values in txrequest.headers.getAllRawHeaders():
        lines.extend(name + b": " + v + b"\r\n" for v in values)
    return b"".join(lines) + b"\r\n"


class _WireKeepingAgent(_ScrapyAgent):
    def _cb_bodyready(
        self, txresponse: TxResponse, request: Request
    ) -> _ResultT | Deferred[_ResultT]:
        request.meta[REASON_META_KEY] = txresponse.phrase.decode("latin-1")
        headers = getattr(txresponse, "_dgarchive_headers", None)
        if headers is not None:
            version = txresponse.version
            request.meta[WIRE_META_KEY] = {
                "url": urldefrag(request.url)[0],
                "status": int(txresponse.code),
                "protocol": f"{version[0].decode()}/{version[1]}.{version[2]}",
                "reason": txresponse.phrase,
                "headers": list(headers),
                "request_head": getattr(txresponse, "_dgarchive_request_head", None),
            }
        return super()._cb_bodyready(txresponse, request)


class HeadRecordingDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, recording both HTTP heads as they crossed the wire.

    The reason phrase, the response headers as received and the request head as sent go to
    `request.meta` (the keys `pipelines.capture` defines), for the WARC capture to archive.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._pool._factory = _HeaderRecordingFactory

    async def download_request(self, request: Request) -> Response:
        # The parent builds its _ScrapyAgent inline; this is the same call with the subclass
        # that records the wire details. Keep in step with HTTP11DownloadHandler.
        agent = _WireKeepingAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=getattr(self._crawler.spider, "download_maxsize", self._default_maxsize),
            warnsize=getattr(self._crawler.spider, "download_warnsize", self._default_warnsize),
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        try:
            with wrap_twisted_exceptions():
                return await maybe_deferred_to_future(agent.download_request(request))
        except ResponseDataLossError:
            if not self._fail_on_dataloss_warned:
                logger.warning(get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise
