# The dgarchive crawler: `docker build -t dgarchive .`, then
#   docker run --rm -v dgarchive-archive:/data/archive -v dgarchive-db:/data/db dgarchive
# runs one incremental crawl of every configured column (CMD ["crawl"]); any other
# subcommand replaces the CMD: `docker run … dgarchive export`, `… dgarchive serve`.
# `docker build --target replay -t dgarchive:replay .` adds pywb for `dgarchive replay`
# (about 50 MB more, so not in the default image). See docs/operations.md.
#
# tests/test_container.py lints this file and replays the build stage's pip steps in a fresh
# virtual environment; `make image-test` builds both images and runs them (tests/container/).
# The base is a build argument so CI, which reaches no image registry, can build on a local
# Debian base with the same Python (.ci/docker-base.sh): --build-arg BASE=…
ARG BASE=python:3.11-slim

# Build tools shared by both virtual environments: binutils for `strip`.
FROM ${BASE} AS tools
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
# Unpinned: the base decides the Debian release, and binutils only runs in the build stages.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends binutils \
 && rm -rf /var/lib/apt/lists/*

# The crawler's virtual environment, from the context .dockerignore filters (no .venv, .git,
# archive, databases or tests). The `serve` extra is Datasette (`dgarchive serve`, 14 MB).
FROM tools AS build
COPY . /src
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-compile "/src[distributed,serve]" \
 && /opt/venv/bin/pip uninstall --yes pip setuptools
# What a crawl never loads, removed (each line is MBs of the runtime image): the
# dependencies' own test suites (Twisted's alone is 20 MB), type stubs, and the debugging
# symbols of the compiled extensions (23 MB; `strip --strip-unneeded` keeps what loading
# needs). The bundled shared libraries under *.libs/ stay untouched: auditwheel patched them.
RUN find /opt/venv/lib -path "*/site-packages/*" -type d \( -name test -o -name tests \) \
      -prune -exec rm -rf {} + \
 && find /opt/venv/lib -path "*/site-packages/*" -name "*.pyi" -delete \
 && find /opt/venv/lib -path "*/site-packages/*" -name "*.so" ! -path "*.libs/*" \
      -exec strip --strip-unneeded {} +
# Bytecode: with a read-only root file system it cannot be written at run time, and
# compiling all of the venv would add 47 MB, mostly for modules a crawl never loads (Twisted's
# mail and SSH, SQLAlchemy's other dialects, Datasette). So a crawl is started here, against a
# closed port, and Python writes the bytecode of exactly what it loads: the engine, the
# middlewares, the pipelines, SQLite and its migrations, the WARC writer. Exit 4 (site
# unreachable) proves it got that far; anything else fails the build. PostgreSQL's driver and
# the distributed crawl's Redis scheduler are imported too, and all of dgarchive's own code
# is compiled. A module left without bytecode (Datasette, for `serve`) still works: it is
# compiled in memory when loaded.
RUN mkdir /tmp/warm \
 && /opt/venv/bin/dgarchive crawl --town houjie --site-root http://127.0.0.1:9/ \
      --archive /tmp/warm --db sqlite:////tmp/warm/warm.sqlite --report /tmp/warm/report.json \
      -s RETRY_TIMES=0 -s DOWNLOAD_DELAY=0 -s AUTOTHROTTLE_ENABLED=False >/tmp/warm.log 2>&1; \
    status=$?; \
    if [ "$status" != 4 ]; then tail -40 /tmp/warm.log; exit 1; fi \
 && /opt/venv/bin/dgarchive --help >/dev/null \
 && /opt/venv/bin/python -c "import psycopg, sqlalchemy.dialects.postgresql.psycopg, \
      scrapy_redis.scheduler, scrapy_redis.dupefilter" \
 && /opt/venv/bin/python -c "import compileall, crawler, pipelines, migrations; \
      all(compileall.compile_dir(m.__path__[0], quiet=1) for m in (crawler, pipelines, migrations)) \
      or exit(1)" \
 && rm -rf /tmp/warm /tmp/warm.log

# pywb for `dgarchive replay`, in a virtual environment of its own: it pins an old redis
# (and fakeredis) that scrapy-redis cannot share. The requirement is pyproject.toml's
# `replay` extra (tests/test_container.py keeps the two equal); setuptools stays, because
# pywb imports pkg_resources.
FROM tools AS pywb
RUN python -m venv /opt/pywb \
 && /opt/pywb/bin/pip install --no-compile "pywb>=2.8" "setuptools>=75,<81" \
 && /opt/pywb/bin/pip uninstall --yes pip \
 && find /opt/pywb/lib -path "*/site-packages/*" -type d \( -name test -o -name tests \) \
      -prune -exec rm -rf {} + \
 && find /opt/pywb/lib -path "*/site-packages/*" -name "*.so" ! -path "*.libs/*" \
      -exec strip --strip-unneeded {} + \
 && python -m compileall -q -j 0 /opt/pywb/lib

# The crawler's runtime: the same base (the venv's interpreter path must exist), without
# /src, binutils or build leftovers. Every dependency ships a binary wheel: no apt packages.
FROM ${BASE} AS crawler

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DGARCHIVE_ARCHIVE=/data/archive \
    DGARCHIVE_DB=sqlite:////data/db/dgarchive.sqlite

# A fixed numeric uid, so bind-mounted host directories can be chowned to it (10001) and
# orchestrators that require a non-root uid can verify it. Not --system: 10001 is above
# SYS_UID_MAX, and useradd would warn. --no-log-init: no lastlog entry sized by the uid. The
# volume directories are created and owned here: Docker copies that ownership into a new
# named volume (a bind-mounted host directory keeps its own: chown it to 10001).
RUN groupadd --gid 10001 dgarchive \
 && useradd --uid 10001 --gid dgarchive --no-log-init --create-home \
      --home-dir /home/dgarchive --shell /usr/sbin/nologin dgarchive \
 && mkdir -p /data/archive /data/db \
 && chown -R dgarchive:dgarchive /data

COPY --from=build /opt/venv /opt/venv

USER 10001:10001
WORKDIR /data
# The archive always needs a volume. /data/db only does with the default SQLite database, so
# it is not declared: a PostgreSQL deployment would get an anonymous volume it never uses.
# With SQLite, mount it: -v dgarchive-db:/data/db.
VOLUME ["/data/archive"]
# `dgarchive serve --bind 0.0.0.0` (Datasette's port); replay adds 8080 below.
EXPOSE 8001

# A batch job, not a service: there is nothing to probe between runs, and a run's health
# is its exit code and report (docs/operations.md), so no HEALTHCHECK.
HEALTHCHECK NONE

# dgarchive is PID 1 in exec form and gets `docker stop`'s SIGTERM itself: Scrapy then
# stops gracefully and the WARC files are closed. Give it time (`--time` / stop_grace_period).
ENTRYPOINT ["dgarchive"]
CMD ["crawl"]

# `docker build --target replay`: the crawler plus pywb, which `dgarchive replay` runs
# through DGARCHIVE_PYWB_PYTHON:
#   docker run --rm -p 8080:8080 -v dgarchive-archive:/data/archive dgarchive:replay \
#     replay --bind 0.0.0.0
FROM crawler AS replay
COPY --from=pywb /opt/pywb /opt/pywb
ENV DGARCHIVE_PYWB_PYTHON=/opt/pywb/bin/python
EXPOSE 8080

# The default target (last stage): the crawler alone, under 250 MB.
FROM crawler
