"""A hostile town site: a real HTTP server on 127.0.0.1 that misbehaves on purpose.

Beside the mirror (`tests.mocksite`), which behaves like the real site, this one serves the
cases an archive of record must survive: redirects off the site and in loops, bodies cut or
bombed, soft-404 and maintenance pages, endless bodies, Retry-After, and so on. Each case is
registered by a module in `tests.hostile.cases` and listed on page 1 of the houjie `tshj`
column, so `dgarchive crawl --town houjie --column houjie/cjjs/tshj/ --site-root URL` reaches it.

```python
from tests.hostile import HostileSite
with HostileSite(cases=["gzip_cut"]) as site:
    site.url                      # http://127.0.0.1:PORT/
    site.article_url("gzip_cut")  # the canonical (www.dg.gov.cn) URL of the case's article
```
"""

from tests.hostile.server import CASES, Case, HostileSite, Request, Responder, case

__all__ = ["CASES", "Case", "HostileSite", "Request", "Responder", "case"]
