"""`python -m tests.hostile [CASE ...]`: serve the hostile site until interrupted."""

from __future__ import annotations

import sys
import time

from tests.hostile import CASES, HostileSite


def main(argv: list[str]) -> None:
    site = HostileSite(argv or None).start()
    print(f"hostile site serving at {site.url} with cases: {', '.join(c.name for c in site.cases)}")
    print(f"known cases: {', '.join(sorted(CASES))}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        site.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
