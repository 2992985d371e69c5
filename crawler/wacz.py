"""`dgarchive wacz`: package a selection of the archive as a WACZ 1.1.1 file.

Written with the standard library's zipfile (py-wacz's `create` guesses pages from Referer
headers; here the database says which captures are articles):

- `archive/`: the selected WARC files, plus any earlier file holding the original of a
  revisit in them, so every page replays from the package alone (stored, not deflated);
- `indexes/index.cdx.gz` + `index.idx`: their CDXJ lines from the archive's index
  (`pipelines.warc.cdxj`), compressed in blocks by cdxj-indexer's writer (cdxj-gzip-1.0,
  the form ReplayWeb.page loads on demand);
- `pages/pages.jsonl`: one line per article, from the database: its latest capture in the
  selection, `url` as captured (the WARC-Target-URI), `ts`, `title` and `text` of the version
  in force then; `pages/extraPages.jsonl`: the list pages captured in the selection;
- `logs/`: each run's report and log as the WARC files hold them (`urn:dgarchive:run:…`),
  else the run reports found in the archive directory, else the run's database row;
- `datapackage.json` (sha256 and size of every file, title and description naming the towns,
  columns and date range) and `datapackage-digest.json`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler import __version__
from crawler.waczlogs import run_logs
from pipelines.dates import as_utc, utc_now, utc_z
from pipelines.pages.listing import PAGE_NAME, is_article_url
from pipelines.warc.cdxj import finished_warcs, read_index, update_index

WACZ_VERSION = "1.1.1"
LINES_PER_BLOCK = 1024  # py-wacz's and ArchiveWeb.page's block size


class WaczError(Exception):
    """The selection is empty or unknown: a usage error for the command."""


@dataclass
class WarcFile:
    path: Path
    run_id: str | None
    date: str  # warcinfo WARC-Date


@dataclass
class WaczSummary:
    output: Path
    warc_files: list[str] = field(default_factory=list)
    pages: int = 0
    extra_pages: int = 0
    logs: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)


def warc_files_info(archive: Path) -> list[WarcFile]:
    """Each finished WARC file with its run id (warcinfo `isPartOf`) and date."""
    from warcio.archiveiterator import ArchiveIterator

    out = []
    for path in finished_warcs(archive):
        run_id, when = None, ""
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "warcinfo":
                    when = record.rec_headers.get_header("WARC-Date") or ""
                    body = record.content_stream().read().decode("utf-8", "replace")
                    for line in body.splitlines():
                        name, _, value = line.partition(":")
                        if name.strip() == "isPartOf":
                            run_id = value.strip()
                break  # the warcinfo is the first record
        out.append(WarcFile(path, run_id, when))
    return out


def select(files: list[WarcFile], run: str | None, since: date | None) -> list[WarcFile]:
    if run:
        chosen = [f for f in files if f.run_id == run]
        if not chosen:
            raise WaczError(f"no WARC file of run {run} in the archive")
    elif since:
        chosen = [f for f in files if f.date[:10] >= since.isoformat()]
        if not chosen:
            raise WaczError(f"no WARC file written on or after {since.isoformat()}")
    else:
        chosen = files
    if not chosen:
        raise WaczError("the archive holds no finished WARC file")
    return chosen


def _cdx_fields(line: str) -> tuple[str, str, dict]:
    key, ts, rest = line.split(" ", 2)
    return key, ts, json.loads(rest)


def index_selection(archive: Path, names: set[str]) -> tuple[list[str], set[str]]:
    """The archive index's lines for `names` and for the files holding the originals of their
    revisits (same URL and payload digest, captured earlier: how replay resolves them)."""
    lines = list(read_index(archive))
    chosen = [line for line in lines if _cdx_fields(line)[2].get("filename") in names]
    originals: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for line in lines:
        key, ts, data = _cdx_fields(line)
        if data.get("mime") != "warc/revisit" and data.get("digest"):
            originals.setdefault((key, data["digest"]), []).append((ts, data["filename"]))
    extra: set[str] = set()
    for line in chosen:
        key, ts, data = _cdx_fields(line)
        if data.get("mime") == "warc/revisit":
            earlier = [c for c in originals.get((key, data.get("digest", "")), []) if c[0] <= ts]
            if earlier and max(earlier)[1] not in names:
                extra.add(max(earlier)[1])
    if extra:
        chosen = [line for line in lines if _cdx_fields(line)[2].get("filename") in names | extra]
    return chosen, extra


def list_pages(lines: Iterable[str], names: set[str]) -> list[dict]:
    """The column list pages captured (HTML, 200) in `names`, each URL once, latest capture."""
    latest: dict[str, dict] = {}
    for line in lines:
        _key, ts, data = _cdx_fields(line)
        url = data.get("url", "")
        path = urlsplit(url).path
        if (
            data.get("filename") in names
            and data.get("status") == "200"
            and data.get("mime") == "text/html"
            and not is_article_url(url)
            and (path.endswith("/") or PAGE_NAME.search(path))
        ):
            latest[url] = {"url": url, "ts": _iso(ts)}
    # An `id` on every line, as on the header: frictionless (in `wacz validate`) reads the
    # file as a table keyed by the header line's fields and calls lines without one blank.
    return [{"id": f"list-{n}", **latest[u]} for n, u in enumerate(sorted(latest), 1)]


def _iso(ts14: str) -> str:
    return f"{ts14[0:4]}-{ts14[4:6]}-{ts14[6:8]}T{ts14[8:10]}:{ts14[10:12]}:{ts14[12:14]}Z"


def article_pages(db_url: str, names: set[str]) -> tuple[list[dict], dict]:
    """pages.jsonl lines from the database, and the towns/columns/dates they cover."""
    from sqlalchemy import select as sql_select
    from sqlalchemy.orm import Session

    from pipelines.store import make_engine, schema_state, schema_too_new_error
    from pipelines.store.models import Article, ArticleVersion, Capture, SiteColumn, Town

    engine = make_engine(db_url, must_exist=True)
    meta: dict[str, Any] = {"towns": set(), "columns": set(), "runs": set()}
    try:
        state = schema_state(engine)
        if state == "ahead":
            raise schema_too_new_error(engine)
        if state == "empty":
            return [], meta
        with Session(engine) as s:
            latest: dict[int, Capture] = {}
            rows = s.scalars(
                sql_select(Capture).where(
                    Capture.article_id.is_not(None), Capture.warc_filename.in_(sorted(names))
                )
            )
            for cap in rows:
                held = latest.get(cap.article_id)  # type: ignore[arg-type]
                if held is None or (cap.fetched_at, cap.id) > (held.fetched_at, held.id):
                    latest[cap.article_id] = cap  # type: ignore[index]
            versions: dict[int, list[tuple[datetime, ArticleVersion]]] = {}
            q = (
                sql_select(ArticleVersion, Capture.fetched_at)
                .join(Capture, ArticleVersion.capture_id == Capture.id)
                .where(ArticleVersion.article_id.in_(list(latest)))
            )
            for version, fetched in s.execute(q):
                versions.setdefault(version.article_id, []).append((fetched, version))
            pages = []
            for article_id, cap in latest.items():
                article = s.get(Article, article_id)
                assert article is not None
                inforce = [v for f, v in sorted(versions.get(article_id, []), key=lambda x: x[0])
                           if f <= cap.fetched_at]
                source: Any = inforce[-1] if inforce else article
                pages.append(
                    {
                        "id": f"article-{article_id}",
                        "url": cap.fetch_url or cap.url,
                        "ts": utc_z(as_utc(cap.fetched_at)),
                        "title": source.title or "",
                        "text": source.text or "",
                    }
                )
                meta["runs"].add(cap.crawl_run_id)
                if article.column_id is not None:
                    column = s.get(SiteColumn, article.column_id)
                    if column is not None:
                        town = s.get(Town, column.town_id)
                        meta["columns"].add(f"{town.name if town else ''}/{column.name}")
                        if town is not None:
                            meta["towns"].add(town.name)
            pages.sort(key=lambda p: (p["url"], p["ts"]))
    finally:
        engine.dispose()
    return pages, meta


def _jsonl(header: dict, rows: list[dict]) -> bytes:
    lines = [json.dumps(header, ensure_ascii=False)]
    lines += [json.dumps(r, ensure_ascii=False) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _compressed_index(lines: list[str]) -> tuple[bytes, bytes]:
    from cdxj_indexer.main import CompressedWriter

    data, idx = io.BytesIO(), io.StringIO()
    writer = CompressedWriter(idx, data, num_lines=LINES_PER_BLOCK, data_out_name="index.cdx.gz")
    for line in lines:
        writer.write(line)
    if writer.block:
        writer.flush()
    return data.getvalue(), idx.getvalue().encode("utf-8")


def build_wacz(
    archive: str | os.PathLike,
    db_url: str,
    output: str | os.PathLike,
    *,
    run: str | None = None,
    since: date | None = None,
) -> WaczSummary:
    root = Path(archive)
    if not root.is_dir():
        raise WaczError(f"archive directory {root} does not exist")
    chosen = select(warc_files_info(root), run, since)
    names = {f.path.name for f in chosen}
    update_index(root)
    lines, extra_files = index_selection(root, names)
    pages, meta = article_pages(db_url, names)
    runs = {f.run_id for f in chosen if f.run_id} | {r for r in meta["runs"] if r}
    extra_pages = list_pages(lines, names)
    summary = WaczSummary(Path(output), sorted(names | extra_files), len(pages), len(extra_pages))
    summary.runs = sorted(runs)

    stamps = sorted(p["ts"] for p in pages + extra_pages) or [f.date for f in chosen]
    towns, columns = sorted(meta["towns"]), sorted(meta["columns"])
    title = f"dgarchive: {'、'.join(towns) or 'www.dg.gov.cn'} news, {stamps[0][:10]} to {stamps[-1][:10]}"
    description = (
        f"Captures of the Dongguan government portal (www.dg.gov.cn) by dgarchive {__version__}: "
        f"towns {', '.join(towns) or '-'}; columns {', '.join(columns) or '-'}; "
        f"captured {stamps[0]} to {stamps[-1]}; {len(pages)} articles, "
        f"{len(extra_pages)} list pages, {len(summary.warc_files)} WARC files; "
        f"runs {', '.join(summary.runs) or '-'}."
    )

    out_path = Path(output)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    resources: list[dict] = []

    def add(zf: zipfile.ZipFile, name: str, data: bytes | None = None, src: Path | None = None,
            stored: bool = False) -> None:
        info = zipfile.ZipInfo(name, datetime.now(UTC).timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        sha, size = hashlib.sha256(), 0
        with zf.open(info, "w", force_zip64=True) as out:
            chunks = [data] if data is not None else _read_chunks(src)
            for chunk in chunks:
                out.write(chunk)
                sha.update(chunk)
                size += len(chunk)
        resources.append({"name": os.path.basename(name).lower(), "path": name,
                          "hash": "sha256:" + sha.hexdigest(), "bytes": size})

    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            for name in summary.warc_files:
                add(zf, f"archive/{name}", src=root / name, stored=True)
            data, idx = _compressed_index(lines)
            add(zf, "indexes/index.cdx.gz", data, stored=True)
            add(zf, "indexes/index.idx", idx)
            header = {"format": "json-pages-1.0", "id": "pages", "title": "Articles",
                      "hasText": True}
            add(zf, "pages/pages.jsonl", _jsonl(header, pages))
            if extra_pages:
                header = {"format": "json-pages-1.0", "id": "extra-pages", "title": "List pages"}
                add(zf, "pages/extraPages.jsonl", _jsonl(header, extra_pages))
            for name, data in run_logs(root, db_url, runs, lines):
                add(zf, name, data)
                summary.logs.append(name)
            now = utc_z(utc_now())
            package = {
                "profile": "data-package",
                "resources": resources,
                "title": title,
                "description": description,
                "created": now,
                "modified": now,
                "wacz_version": WACZ_VERSION,
                "software": f"dgarchive {__version__}",
            }
            if pages:
                package["mainPageURL"] = pages[0]["url"]
                package["mainPageDate"] = pages[0]["ts"]
            package_bytes = json.dumps(package, indent=2, ensure_ascii=False).encode("utf-8")
            zf.writestr(_info("datapackage.json"), package_bytes)
            digest = {"path": "datapackage.json",
                      "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest()}
            zf.writestr(_info("datapackage-digest.json"), json.dumps(digest, indent=2))
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return summary


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, datetime.now(UTC).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _read_chunks(path: Path | None) -> Iterable[bytes]:
    assert path is not None
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            yield chunk
