"""`dgarchive extract FILE [--url URL]`: records of a saved page or of a WARC file's articles.

Runs exactly the extraction the crawl and `reindex` run (`pipelines.pages.extract_record`);
reads only the file it is given. Output is JSON, UTF-8, one record per line.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from crawler.config import canonical_urls
from crawler.readahead import ahead
from pipelines.pages import UnreadablePage, extract_record, is_article_url
from pipelines.pages.encoding import http_charset

PROG = "dgarchive extract"
WARC_SUFFIXES = (".warc", ".warc.gz")
_SNIFF = 65536  # bytes read to tell a WARC from a page when the name does not say


def run(path: str, url: str | None, out: TextIO, err: TextIO) -> int:
    """Print the record of an HTML file, or one line per article response of a WARC file.

    Returns 0 on success; 1 for a missing, unreadable or empty file, a page that is not text,
    a WARC file that cannot be read or holds no article; 2 for `--url` given with a WARC.
    Every error is one line on `err`.
    """
    p = Path(path)
    body = None
    try:
        with p.open("rb") as fh:
            head = fh.read(_SNIFF)
            if not head:
                return _fail(err, f"{path}: empty file")
            if not _is_warc(p, head):
                body = head + fh.read()
    except FileNotFoundError:
        return _fail(err, f"{path}: no such file")
    except IsADirectoryError:
        return _fail(err, f"{path}: is a directory")
    except OSError as exc:
        return _fail(err, f"{path}: cannot read: {exc.strerror or exc}")
    if body is None:
        if url:
            return _fail(err, "--url applies to an HTML file; a WARC names its own URLs", 2)
        return _run_warc(path, out, err)
    if not body.strip():
        return _fail(err, f"{path}: empty file")

    page_url = url or p.resolve().as_uri()
    try:
        record = extract_record(body, page_url)
    except UnreadablePage as exc:
        return _fail(err, f"{path}: {exc}")
    out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


def _run_warc(path: str, out: TextIO, err: TextIO) -> int:
    from pipelines.warc.reader import WarcReadError

    printed = failed = 0
    try:
        # The file is read in a child process (with a share of the articles extracted
        # there, see `_warc_items`) while the other articles are extracted here.
        for item in ahead(lambda: _warc_items(path)):
            if len(item) == 4:
                url, (line, problem) = item[0], _record_line(*item)
            else:
                url, line, problem = item
            if line is None:
                err.write(f"{PROG}: {path}: {url}: {problem}\n")
                failed += 1
                continue
            out.write(line)
            printed += 1
    except WarcReadError as exc:
        return _fail(err, str(exc))
    if not printed and not failed:
        return _fail(err, f"{path}: no article response (HTTP 200, /content/post_<id>.html) in it")
    return 1 if failed else 0


# Every CHILD_SHARE-th article is extracted by the process that reads the file: reading
# costs about half what extracting does (0.47 against 1.05 s CPU for the 2,000 articles of
# the mirror), so with a quarter of the extraction the reader finishes with the other.
CHILD_SHARE = 4


def _warc_items(path: str) -> Iterator[tuple]:
    """Per article of the file, in file order: (URL, body, charset, capture) to extract,
    or for every CHILD_SHARE-th article (URL, JSON line, None) or (URL, None, problem)."""
    for n, article in enumerate(_articles(path), 1):
        if n % CHILD_SHARE:
            yield article
        else:
            yield (article[0], *_record_line(*article))


def _record_line(
    url: str, body: bytes, charset: str | None, capture: dict
) -> tuple[str | None, str | None]:
    """The JSON line of one article, or None and why the page is unreadable."""
    try:
        record = extract_record(body, url, encoding=charset)
    except UnreadablePage as exc:
        return None, str(exc)
    record["capture"] = capture
    return json.dumps(record, ensure_ascii=False, default=str) + "\n", None


def _articles(path: str) -> Iterator[tuple[str, bytes, str | None, dict]]:
    """(URL, body, charset, capture) of each article response of a WARC file, in file order.

    Raises WarcReadError as `iter_captures` does, after the articles before the damage.
    """
    from pipelines.warc.reader import iter_captures

    for cap in iter_captures(path, canonical_urls=canonical_urls):
        if cap.body is None or cap.status != 200:
            continue  # revisits point at an earlier capture; redirects and errors hold none
        url = cap.canonical_url or cap.target_uri
        if not url or not is_article_url(url):
            continue
        # The same reading of the Content-Type charset as the crawl's.
        yield url, cap.body, http_charset(cap.content_type), dict(cap.capture)


def _is_warc(p: Path, head: bytes) -> bool:
    """By name, or by content: `WARC/1.x` at the start, gzipped or not."""
    if p.name.lower().endswith(WARC_SUFFIXES):
        return True
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(head)) as fh:
                head = fh.read(16)
        except (OSError, EOFError):
            return False
    return head.startswith(b"WARC/")


def _fail(err: TextIO, message: str, code: int = 1) -> int:
    err.write(f"{PROG}: {message}\n")
    return code
