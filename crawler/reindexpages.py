"""Reading and extraction for `dgarchive reindex` (`crawler.reindexing`): the records the
archive's article pages give, as the crawl's spider and item pipelines make them, as a stream
of events (`events`) that a reader process (`crawler.readahead.Ahead`) can send on.

Light to import: the page objects, the cleaning and the WARC reader are imported where they
are used, in the process that reads. Neither Scrapy nor itemadapter is imported at all.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from crawler.config import Column, canonical_urls, load_towns

if TYPE_CHECKING:
    from pipelines.warc.reader import ArchivedResponse

__all__ = ["ArticleEnricher", "Pages", "events", "file_size", "printable", "say"]


class ArticleEnricher:
    """Builds records as the spider does (`pipelines.pages.article_record`), finding the
    column the spider was crawling from the article URL's folder, which is the listed
    column on this site."""

    def __init__(self) -> None:
        from pipelines.pages import article_record

        self._article_record = article_record
        towns = load_towns()
        self.towns = {t.slug: t for t in towns}
        self.columns = {c.path: c for t in towns for c in t.columns}

    def column_for(self, url: str) -> Column:
        from pipelines.store.paths import column_path_of

        path = column_path_of(url)
        return self.columns.get(path) or Column(path=path, name="", town=path.split("/")[0])

    def record(self, body: bytes, url: str, encoding: str | None) -> dict:
        column = self.column_for(url)
        town = self.towns.get(column.town)
        return self._article_record(
            body,
            url,
            encoding=encoding,
            town=column.town,
            column_path=column.path,
            column_name=column.name,
            site=town.site if town is not None else None,
        )


def _header(capture: ArchivedResponse, name: str) -> str | None:
    headers = capture.http_headers
    return headers.get_header(name) if headers is not None else None


def _encoding(capture: ArchivedResponse) -> str | None:
    """The charset label as the spider takes it (`pipelines.pages.encoding.http_charset`)."""
    from pipelines.pages.encoding import http_charset

    return http_charset(_header(capture, "Content-Type"))


def site_roots(
    files: list[Path], site_root_of: Callable[[Path], str | None], err: TextIO
) -> dict[Path, str | None]:
    """Each file's site root, from its warcinfo; for a file whose warcinfo is damaged, the
    nearest other file's (the one before, else after), so its mirror URLs still map back to
    www.dg.gov.cn URLs instead of being skipped as off-site."""
    own: dict[Path, str | None] = {}
    for p in files:
        try:
            own[p] = site_root_of(p)
        except OSError:
            pass  # reading the file reports it
    roots: dict[Path, str | None] = {}
    for i, path in enumerate(files):
        if own.get(path) is not None or path not in own:
            roots[path] = own.get(path)
            continue
        before = [own[p] for p in reversed(files[:i]) if own.get(p) is not None]
        after = [own[p] for p in files[i + 1 :] if own.get(p) is not None]
        guess = (before or after or [None])[0]
        roots[path] = guess
        say(
            err,
            f"warning: {path.name}: no complete warcinfo record first; its fetch URLs are "
            + (
                f"mapped with the site root {guess or 'https://www.dg.gov.cn/'} of another file"
                if guess is not None
                else "taken as www.dg.gov.cn URLs"
            ),
        )
    return roots


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reading the file reports it


def printable(text: str) -> str:
    """`text` safe for a terminal or a log: control and unprintable characters escaped.

    File names, URLs and reasons can come from damaged bytes; stderr gets none of them raw.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def say(err: TextIO, message: str) -> None:
    print("dgarchive: " + printable(message), file=err)


class Pages:
    """Extraction and cleaning of article pages into `events`' events, as the crawl's
    spider and item pipelines do; the same code in the reader process and in this one."""

    def __init__(self) -> None:
        from pipelines.cleaning import clean_record

        self.enricher = ArticleEnricher()
        self.clean = clean_record

    def events(
        self, body: bytes, url: str, encoding: str | None, capture: dict, where: str
    ) -> Iterator[tuple]:
        try:
            record = self.enricher.record(body, url, encoding)
        except Exception as exc:  # noqa: BLE001 - the live crawl skipped it too
            yield ("count", ("failed_pages", 1))
            yield ("say", f"warning: cannot extract {url} ({where}): {exc}")
            return
        record["capture"] = capture
        cleaned = self.clean(record)  # as the crawl's CleaningPipeline
        if cleaned is None:
            yield ("count", ("dropped", 1))  # the crawl dropped it too
            return
        yield ("record", cleaned)


def events(
    files: list[Path], hand_over: Callable[[int], bool] | None = None, ending_bytes: int = 0
) -> Iterator[tuple]:
    """What reading `files` gives, in order: `("record", record)` (extracted and cleaned),
    `("revisit", item)`, `("end", path)` after each file, `("say", message)` for stderr,
    `("count", (key, n))`; an article page for which `hand_over(n)` (n counts them from 1)
    is true as `("page", args)` instead, for the consumer's `Pages.events(*args)`.
    With `ending_bytes`, `("ending", None)` once the reading is within that many bytes of
    the last file's end, and no page is handed over from there on.
    Picklable, for a reader process (`crawler.readahead.Ahead`)."""
    from pipelines.pages import is_article_url
    from pipelines.warc.reader import WarcReadError, describe, read_warc, site_root_of
    from pipelines.warc.scan import Damage

    pages = Pages()
    said = io.StringIO()
    roots = site_roots(files, site_root_of, said)
    for line in said.getvalue().splitlines():
        yield ("say", line.removeprefix("dgarchive: "))
    n = 0
    ending_at = file_size(files[-1]) - ending_bytes if files and ending_bytes else None
    for path in files:
        damaged = 0
        try:
            for cap in read_warc(path, site_root=roots.get(path), canonical_urls=canonical_urls):
                if isinstance(cap, Damage):
                    damaged += 1
                    yield ("say", f"warning: {path.name}: {describe(cap)}")
                    continue
                url = cap.canonical_url
                if not url or not is_article_url(url):
                    continue
                capture = dict(cap.capture)
                capture["etag"] = _header(cap, "ETag")
                capture["last_modified"] = _header(cap, "Last-Modified")
                if cap.warc_type == "revisit":
                    yield ("revisit", {"revisit": True, "url": url, "capture": capture})
                    continue
                if cap.status != 200 or cap.body is None:
                    continue
                page = (cap.body, url, _encoding(cap), capture)
                where = f"{path.name}@{capture.get('warc_offset')}"
                n += 1
                if (
                    ending_at is not None
                    and path == files[-1]
                    and (capture.get("warc_offset") or 0) >= ending_at
                ):
                    ending_at = None
                    hand_over = None
                    yield ("ending", None)
                if hand_over is not None and hand_over(n):
                    yield ("page", (*page, where))
                else:
                    yield from pages.events(*page, where)
            yield ("count", ("files", 1))
        except WarcReadError as exc:
            yield ("count", ("unreadable_files", 1))
            yield ("say", f"warning: {exc}")
        if damaged:
            yield ("count", ("damaged_spots", damaged))
            yield ("count", ("damaged_files", 1))
        yield ("end", path)  # keep what this file gave even if a later one fails
