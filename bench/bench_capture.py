"""The WARC capture path alone, in one process: replay a crawl's exchanges through WarcCapture.

`python -m bench.bench_capture WARC [--repeat 3] [--out DIR]` reads the response and request
records of a WARC file written by a crawl (the wire heads and payloads as received), then
hands each exchange to `WarcCapture.response_downloaded` as the download handler would (real
Scrapy `Request`/`Response` objects, `request.meta["http_wire"]` filled in), with a fixed
clock and record ids, into a new archive. It prints the CPU time per exchange (the reactor
thread's cost of capture) and the SHA-256 of the archive written: two trees that write the
same bytes print the same digest, so a speed-up can be checked to change nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta

from scrapy import Request
from scrapy.http import Response
from warcio.archiveiterator import ArchiveIterator

from pipelines.capture import WarcCapture
from pipelines.capturemeta import WIRE_META_KEY


def load_exchanges(path: str) -> list[dict]:
    """The wire heads and payload of each exchange (request and response), in file order."""
    requests: dict[str, bytes] = {}
    responses = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, no_record_parse=True):
            if rec.rec_type not in ("request", "response"):
                continue
            head, _, body = rec.raw_stream.read().partition(b"\r\n\r\n")
            if rec.rec_type == "request":
                requests[rec.rec_headers.get_header("WARC-Concurrent-To")] = head + b"\r\n\r\n"
                continue
            first, *lines = head.split(b"\r\n")
            _, status, reason = (first.split(b" ", 2) + [b""])[:3]
            responses.append(
                {
                    "id": rec.rec_headers.get_header("WARC-Record-ID"),
                    "url": rec.rec_headers.get_header("WARC-Target-URI"),
                    "status": int(status),
                    "reason": reason,
                    "headers": [tuple(ln.split(b": ", 1)) for ln in lines],
                    "body": body,
                }
            )
    for r in responses:
        r["request_head"] = requests.get(r["id"], b"")
    return responses


def replay(exchanges: list[dict], directory: str) -> float:
    """Capture every exchange into `directory`; return the CPU seconds it took."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    tick = itertools.count()
    ids = itertools.count()
    cap = WarcCapture(
        directory,
        crawl_id="bench",
        clock=lambda: start + timedelta(milliseconds=next(tick)),
        id_factory=lambda: f"<urn:uuid:00000000-0000-4000-8000-{next(ids):012d}>",
        hostname="bench",
        software="bench",
        max_body_size=32 * 1024 * 1024,
    )
    pairs = []
    for ex in exchanges:
        req = Request(ex["url"])
        resp = Response(
            ex["url"], status=ex["status"], headers=ex["headers"], body=ex["body"],
            request=req, ip_address=None,
        )  # fmt: skip
        pairs.append((req, resp, ex))
    t0 = time.process_time()
    for req, resp, ex in pairs:
        req.meta[WIRE_META_KEY] = {
            "url": ex["url"],
            "status": ex["status"],
            "protocol": "HTTP/1.1",
            "reason": ex["reason"],
            "headers": list(ex["headers"]),
            "request_head": ex["request_head"],
        }
        cap.response_downloaded(resp, req)
    cap.close()
    return time.process_time() - t0


def digest(directory: str) -> str:
    h = hashlib.sha256()
    for name in sorted(os.listdir(directory)):
        if name.endswith((".warc.gz", ".warc")):
            with open(os.path.join(directory, name), "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("warc")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", help="keep the last archive written here")
    args = ap.parse_args()
    exchanges = load_exchanges(args.warc)
    times = []
    for _ in range(args.repeat):
        tmp = tempfile.mkdtemp(prefix="dgcapture-")
        try:
            times.append(replay(exchanges, tmp))
            sha = digest(tmp)
            size = sum(os.path.getsize(os.path.join(tmp, n)) for n in os.listdir(tmp))
            if args.out:
                shutil.rmtree(args.out, ignore_errors=True)
                shutil.copytree(tmp, args.out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    best = min(times)
    print(
        f"{len(exchanges)} exchanges: best {best:.3f} CPU-s of {args.repeat} "
        f"({1e6 * best / len(exchanges):.0f} us an exchange), {size} bytes, sha256 {sha}"
    )


if __name__ == "__main__":
    main()
