"""The project's test mirror: a faithful Houjie-like town site served on 127.0.0.1.

    site = MockSite(articles=60, per_page=20, faults=False, seed=0).start()
    site.url  # "http://127.0.0.1:PORT/", the --site-root of a mirror crawl

See server.MockSite for the API and content.py / templates.py for what is served.
"""

from __future__ import annotations

from .content import Article
from .server import MockSite

__all__ = ["Article", "MockSite"]
