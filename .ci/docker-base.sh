#!/usr/bin/env bash
# Print the tag of a local Debian base image for building the project's image in CI, building
# it first if this engine does not have it yet.
#
# CI reaches no image registry, so `python:3.11-slim` cannot be pulled. This builds an
# equivalent base (Debian minbase + the distribution's Python 3.11, venv and `python` name)
# with mmdebstrap from the host's own Debian sources and `docker import`s it. The host's extra
# certificate authorities (/usr/local/share/ca-certificates/*.crt) are copied in so pip inside
# `docker build` trusts what the host's pip trusts. That makes the image specific to this
# machine: it is for CI only and must never be pushed anywhere.
#
# The tag is a hash of every input (this script, the package list, the sources, the extra
# CAs), so an unchanged machine reuses the image from the previous run (0 s instead of ~1 min).
set -euo pipefail

DOCKER=${DOCKER:-/usr/bin/docker}
PACKAGES=python3,python3-venv,python-is-python3,ca-certificates
SOURCES=/etc/apt/sources.list.d/debian.sources
[ -r "$SOURCES" ] || SOURCES=/etc/apt/sources.list
. /etc/os-release
SUITE=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}

shopt -s nullglob
CERTS=(/usr/local/share/ca-certificates/*.crt)
shopt -u nullglob

TAG="dgarchive-ci-base:$(
  {
    cat "$0" "$SOURCES"
    echo "$SUITE $PACKAGES $(dpkg --print-architecture)"
    for c in "${CERTS[@]}"; do echo "$c"; cat "$c"; done
  } | sha256sum | cut -c1-16
)"

if "$DOCKER" image inspect "$TAG" >/dev/null 2>&1; then
  echo "$TAG"
  exit 0
fi

hooks=()
if [ ${#CERTS[@]} -gt 0 ]; then
  hooks+=(--customize-hook="copy-in ${CERTS[*]} /usr/local/share/ca-certificates/")
  hooks+=(--customize-hook='chroot "$1" update-ca-certificates >/dev/null')
fi

echo "building $TAG with mmdebstrap ($SUITE: $PACKAGES)" >&2
start=$(date +%s)
# Documentation, man pages and translations are useless in a build base; leaving them out
# keeps the project's runtime image small (it is built FROM this base too). The merged-usr
# hook lays out /usr without the usrmerge package, which would keep 47 MB of Perl in the image.
# Into a file first: piping straight into `docker import` would tag an empty image when
# mmdebstrap fails, and the next run would take that for the cached base.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mmdebstrap --quiet --variant=minbase --include="$PACKAGES" \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  "${hooks[@]}" \
  "$SUITE" "$tmp/base.tar" "$SOURCES" </dev/null 2>"$tmp/mmdebstrap.log" ||
  { tail -40 "$tmp/mmdebstrap.log" >&2; exit 1; }
"$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'LABEL org.dgarchive.ci-only=true' \
  --change 'CMD ["python3"]' \
  "$tmp/base.tar" "$TAG" >/dev/null
# Older bases (other inputs) would pile up on a machine that keeps its engine's data.
"$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}' dgarchive-ci-base |
  grep -vxF "$TAG" | xargs -r "$DOCKER" rmi >/dev/null || true
echo "built $TAG in $(($(date +%s) - start)) s" >&2
echo "$TAG"
