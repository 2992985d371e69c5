# The dgarchive crawler: `docker build -t dgarchive .`, then
#   docker run --rm -v dgarchive-archive:/data/archive -v dgarchive-db:/data/db dgarchive
# runs one incremental crawl of every configured column (CMD ["crawl"]); any other
# subcommand replaces the CMD: `docker run … dgarchive export`. See docs/operations.md.

# Build stage: the project and its dependencies go into a virtual environment, built from
# the context that .dockerignore filters (no .venv, .git, archive, databases or tests).
# tests/test_container.py runs the same install in a fresh virtual environment; `make
# image-test` builds and runs the real image (tests/container/).
# The base is a build argument so CI, which reaches no image registry, can build on a local
# Debian base with the same Python (.ci/docker-base.sh): --build-arg BASE=…
ARG BASE=python:3.11-slim
FROM ${BASE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1
COPY . /src
# pip and setuptools only install, and the dependencies' own test suites (Twisted's alone is
# 20 MB) are never imported by a crawl: removed here, they would be 45 MB of the runtime image.
# The bytecode stays: with a read-only root file system it could not be written at run time.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir "/src[distributed]" \
 && /opt/venv/bin/pip uninstall --yes pip setuptools \
 && find /opt/venv/lib -path "*/site-packages/*" -type d \( -name test -o -name tests \) \
      -prune -exec rm -rf {} +

# Runtime stage: the same base (the venv's interpreter path must exist), without /src or
# build leftovers. Every dependency ships a binary wheel, so no apt packages are needed.
FROM ${BASE}

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

# A batch job, not a service: there is nothing to probe between runs, and a run's health
# is its exit code and report (docs/operations.md), so no HEALTHCHECK.
HEALTHCHECK NONE

# dgarchive is PID 1 in exec form and gets `docker stop`'s SIGTERM itself: Scrapy then
# stops gracefully and the WARC files are closed. Give it time (`--time` / stop_grace_period).
ENTRYPOINT ["dgarchive"]
CMD ["crawl"]
