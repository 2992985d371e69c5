# The dgarchive crawler: `docker build -t dgarchive .`, then
#   docker run --rm -v dgarchive-archive:/data/archive -v dgarchive-db:/data/db dgarchive
# runs one incremental crawl of every configured column (CMD ["crawl"]); any other
# subcommand replaces the CMD: `docker run … dgarchive export`. See docs/operations.md.

# Build stage: the project and its dependencies go into a virtual environment, built from
# the context that .dockerignore filters (no .venv, .git, archive, databases or tests).
# tests/test_container.py runs the same install in a fresh virtual environment.
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1
COPY . /src
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir /src

# Runtime stage: the same base (the venv's interpreter path must exist), without /src or
# build leftovers. Every dependency ships a binary wheel, so no apt packages are needed.
FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DGARCHIVE_ARCHIVE=/data/archive \
    DGARCHIVE_DB=sqlite:////data/db/dgarchive.sqlite

# A fixed numeric uid, so bind-mounted host directories can be chowned to it (10001) and
# orchestrators that require a non-root uid can verify it. The volume directories are
# created and owned here: Docker copies that ownership into a new named volume.
RUN groupadd --system --gid 10001 dgarchive \
 && useradd --system --uid 10001 --gid dgarchive --create-home --home-dir /home/dgarchive \
      --shell /usr/sbin/nologin dgarchive \
 && mkdir -p /data/archive /data/db \
 && chown -R dgarchive:dgarchive /data

COPY --from=build /opt/venv /opt/venv

USER 10001:10001
WORKDIR /data
VOLUME ["/data/archive", "/data/db"]

# A batch job, not a service: there is nothing to probe between runs, and a run's health
# is its exit code and report (docs/operations.md), so no HEALTHCHECK.
HEALTHCHECK NONE

# dgarchive is PID 1 in exec form and gets `docker stop`'s SIGTERM itself: Scrapy then
# stops gracefully and the WARC files are closed. Give it time (`--time` / stop_grace_period).
ENTRYPOINT ["dgarchive"]
CMD ["crawl"]
