"""`python -m tests.mocksite`: serve the mirror until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import threading

from .server import MockSite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.mocksite",
        description="Serve the dgarchive test mirror (a Houjie-like town site) on 127.0.0.1. "
        "Drive it from another process with POST /__admin/add?n=N and "
        "POST /__admin/change?id=ID.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: a free one)")
    parser.add_argument("--articles", type=int, default=60, help="total live articles")
    parser.add_argument("--per-page", type=int, default=20, help="list items per page")
    parser.add_argument("--faults", action="store_true", help="link the fault pages")
    parser.add_argument("--seed", type=int, default=0, help="content seed")
    parser.add_argument(
        "--full-page-bar", action="store_true",
        help="tshj's page bar links every page number (not a window of ten)",
    )  # fmt: skip
    parser.add_argument(
        "--cache-limit", type=int, default=None,
        help="keep at most N rendered bodies (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--no-log", action="store_true", help="keep no request log nor bodies sent (large runs)"
    )
    args = parser.parse_args(argv)

    site = MockSite(
        articles=args.articles,
        per_page=args.per_page,
        faults=args.faults,
        seed=args.seed,
        full_page_bar=args.full_page_bar,
        cache_limit=args.cache_limit,
        log=not args.no_log,
    )
    site.start(port=args.port)
    print(f"mocksite serving at {site.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
