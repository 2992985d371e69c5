"""The baseline of bench_extract: `trafilatura.extract()` over every article of a WARC file.

`python bench/trafilatura_warc.py FILE` reads FILE with warcio, takes each 200 response whose
URL is an article (`/content/post_N.html`), decodes it by its Content-Type charset (decoding
done for trafilatura, as a caller would) and prints one JSON line per page: its URL and the
text trafilatura extracted with its defaults. A whole process, like `dgarchive extract`.
"""

from __future__ import annotations

import json
import re
import sys

import trafilatura
from warcio.archiveiterator import ArchiveIterator

ARTICLE = re.compile(r"/content/post_\d+\.html$")
CHARSET = re.compile(r"charset=[\"']?([\w-]+)", re.IGNORECASE)


def main(path: str) -> int:
    out = sys.stdout
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response" or rec.http_headers is None:
                continue
            url = rec.rec_headers.get_header("WARC-Target-URI") or ""
            if rec.http_headers.get_statuscode() != "200" or not ARTICLE.search(url):
                continue
            body = rec.content_stream().read()
            m = CHARSET.search(rec.http_headers.get_header("Content-Type") or "")
            try:
                html = body.decode(m.group(1) if m else "utf-8", errors="replace")
            except LookupError:
                html = body.decode("utf-8", errors="replace")
            text = trafilatura.extract(html, url=url) or ""
            out.write(json.dumps({"url": url, "text": text}, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
