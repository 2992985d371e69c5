"""`dgarchive index`, `wacz` and `replay`: the archivist's commands over the WARC files.

`index` brings `<archive>/indexes/` up to date (`pipelines.warc.cdxj`), `wacz` packages a
selection (`crawler.wacz`), `replay` indexes and then serves the archive with pywb (the
`replay` extra) as the collection `dgarchive`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from crawler.cli.base import UsageError, db_url_of, project_settings
from crawler.cli.records import _date

COLLECTION = "dgarchive"  # the replay path: /dgarchive/<14-digit timestamp>/<captured URL>


def register(sub: Any) -> None:
    index = sub.add_parser(
        "index",
        help="bring the archive's CDXJ replay index up to date",
        description="Index the finished WARC files not indexed yet into ARCHIVE/indexes/ "
        "(SURT-sorted CDXJ, pywb's format; a ZipNum cluster once it is large).",
    )
    index.add_argument("--archive", metavar="DIR", help="default ./archive or $DGARCHIVE_ARCHIVE")
    index.add_argument(
        "--zipnum-threshold",
        type=int,
        metavar="BYTES",
        help="write a compressed ZipNum index above this plain-CDXJ size (default 64 MiB)",
    )
    index.set_defaults(run=index_command)

    wacz = sub.add_parser(
        "wacz",
        help="package the archive (or one run, or the runs since a date) as a WACZ file",
        description="Write a WACZ 1.1.1 package: WARC files, CDXJ index, pages from the "
        "database (one line per article), list pages, run reports, datapackage.json.",
    )
    wacz.add_argument("--archive", metavar="DIR", help="default ./archive or $DGARCHIVE_ARCHIVE")
    wacz.add_argument("--db", metavar="URL")
    which = wacz.add_mutually_exclusive_group()
    which.add_argument("--run", dest="run_id", metavar="RUN_ID", help="only the WARC files of this crawl run")
    which.add_argument(
        "--since", metavar="DATE", type=_date, help="only WARC files written on or after DATE"
    )
    wacz.add_argument("--output", "-o", metavar="FILE.wacz", required=True)
    wacz.set_defaults(run=wacz_command)

    replay = sub.add_parser(
        "replay",
        help="serve the archive for replay with pywb (pip install 'dgarchive[replay]')",
        description="Index the archive, then serve it with pywb until interrupted. Pages are "
        f"at http://HOST:PORT/{COLLECTION}/<14-digit timestamp>/<captured URL>.",
    )
    replay.add_argument("--archive", metavar="DIR", help="default ./archive or $DGARCHIVE_ARCHIVE")
    replay.add_argument("--port", type=int, default=8080, metavar="N", help="default 8080")
    replay.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS", help="default 127.0.0.1")
    replay.add_argument("--zipnum-threshold", type=int, metavar="BYTES", help="as for index")
    replay.set_defaults(run=replay_command)


def archive_of(args: argparse.Namespace) -> Path:
    path = Path(args.archive or project_settings().get("WARC_DIR")).resolve()
    if not path.is_dir():
        raise UsageError(f"archive directory {path} does not exist")
    return path


def index_command(args: argparse.Namespace, settings: Any = None) -> int:
    from pipelines.warc.cdxj import DEFAULT_ZIPNUM_THRESHOLD, update_index

    archive = archive_of(args)
    started = time.monotonic()
    threshold = args.zipnum_threshold or DEFAULT_ZIPNUM_THRESHOLD
    result = update_index(archive, zipnum_threshold=threshold)
    print(
        f"indexed {len(result.files_read)} WARC file(s), {result.lines_added} new line(s); "
        f"{result.lines_total} in {result.path} ({time.monotonic() - started:.2f} s)"
    )
    return 0


def wacz_command(args: argparse.Namespace, settings: Any = None) -> int:
    from crawler.wacz import WaczError, build_wacz

    archive = archive_of(args)
    try:
        summary = build_wacz(
            archive, db_url_of(args), args.output, run=args.run_id, since=args.since
        )
    except WaczError as exc:
        raise UsageError(str(exc)) from None
    print(
        f"wrote {summary.output}: {len(summary.warc_files)} WARC file(s), {summary.pages} "
        f"article page(s), {summary.extra_pages} list page(s), {len(summary.logs)} log(s)"
    )
    return 0


def pywb_config(archive: Path, index: Path) -> str:
    """pywb's config.yaml: one collection reading the archive's own index and WARC files."""
    import json

    # JSON is YAML: quoting paths this way is safe for any character.
    return (
        "collections:\n"
        f"  {COLLECTION}:\n"
        f"    index_paths: {json.dumps(str(index))}\n"
        f"    archive_paths: {json.dumps(str(archive) + '/')}\n"
        # Unframed: a replay URL answers with the page itself (and pywb's banner), so a
        # database row's replay_url shows the article, not an empty frame around it.
        "framed_replay: false\n"
    )


def pywb_python() -> str:
    """The interpreter that runs pywb: `$DGARCHIVE_PYWB_PYTHON` when set, else this one.

    pywb pins an old redis (and fakeredis) that scrapy-redis, the distributed crawl's engine,
    cannot share, so an installation with both keeps pywb in a virtual environment of its own
    and names its python here (`make install` does: `.venv-pywb`)."""
    import importlib.util

    python = os.environ.get("DGARCHIVE_PYWB_PYTHON")
    if python:
        if not os.access(python, os.X_OK):
            raise UsageError(f"DGARCHIVE_PYWB_PYTHON={python} is not an executable python")
        return python
    if importlib.util.find_spec("pywb") is None:
        raise UsageError(
            "replay needs pywb: pip install 'dgarchive[replay]', or set DGARCHIVE_PYWB_PYTHON "
            "to the python of a virtual environment that has it"
        )
    return sys.executable


def replay_command(args: argparse.Namespace, settings: Any = None) -> int:
    python = pywb_python()
    from pipelines.warc.cdxj import DEFAULT_ZIPNUM_THRESHOLD, INDEX_DIR, update_index

    archive = archive_of(args)
    result = update_index(archive, zipnum_threshold=args.zipnum_threshold or DEFAULT_ZIPNUM_THRESHOLD)
    if not result.lines_total:
        raise UsageError(f"nothing to replay: {archive} holds no indexed capture")
    # Kept next to the index, so `wayback -d ARCHIVE/indexes/pywb` serves it the same way.
    conf_dir = archive / INDEX_DIR / "pywb"
    conf_dir.mkdir(exist_ok=True)
    (conf_dir / "config.yaml").write_text(pywb_config(archive, result.path))
    host = f"[{args.bind}]" if ":" in args.bind else args.bind
    print(f"replaying {archive} at http://{host}:{args.port}/{COLLECTION}/", flush=True)
    sys.stderr.flush()
    # A fresh interpreter: pywb patches the standard library for gevent when imported, which
    # must happen before anything else is loaded. exec keeps the pid, so signals reach pywb.
    code = "import sys; from pywb.apps.cli import wayback; sys.exit(wayback())"
    argv = [python, "-c", code, "-b", args.bind, "-p", str(args.port), "-d", str(conf_dir)]
    os.execv(python, argv)
    return 70  # not reached
