#!/usr/bin/env bash
# Build the default sandbox image without any registry.
#  1. A minimal Debian root filesystem made with debootstrap (--variant=minbase), imported with
#     `docker import` as the local base image lanes-base:$BASE_VERSION. The rootfs tarball is
#     cached outside the clone ($LANES_CACHE), keyed by version, so a fresh engine re-imports it
#     in seconds instead of re-running debootstrap.
#  2. `lanes images build`: templates/sandbox/Dockerfile FROM that base as lanes-sandbox:latest
#     (and lanes-sandbox:lanes, the base of a project's own .lanes/sandbox/Dockerfile), with the
#     current Node LTS and npm from the npm registry and the host's extra CA certificate staged
#     next to it; tagged by a hash of its inputs, so an unchanged image is only re-tagged.
# Idempotent; fast when already done.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
log() { printf 'build-image: %s\n' "$*" >&2; }

BASE_VERSION=bookworm-3
BASE_IMAGE=lanes-base:$BASE_VERSION
SANDBOX_IMAGE=${LANES_SANDBOX_IMAGE:-lanes-sandbox:latest}
CACHE=${LANES_CACHE:-/var/cache/lanes}
MIRROR=${LANES_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=bash,git,patch,python3,python3-pip,python3-venv,nodejs,ca-certificates,coreutils,procps,libnss-myhostname

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

if ! have_image "$BASE_IMAGE"; then
  mkdir -p "$CACHE"
  tarball=$CACHE/rootfs-$BASE_VERSION.tar
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null 2>&1 || {
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing debootstrap"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
      else log "debootstrap is needed (apt-get install debootstrap)"; exit 5; fi
    }
    root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'rm -rf "$root"' EXIT
    log "debootstrap bookworm (minbase + $PACKAGES) — a few minutes, once"
    debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
      || { log "debootstrap failed; see $CACHE/debootstrap.log"; tail -n 20 "$CACHE/debootstrap.log" >&2; exit 5; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$root"; trap - EXIT
  fi
  log "importing $tarball as $BASE_IMAGE"
  docker import --change 'CMD ["/bin/bash"]' "$tarball" "$BASE_IMAGE" >/dev/null
fi

# Step 2 is `lanes images build` itself (src/adapters/docker/images.ts): it stages the Node LTS,
# npm and the host's CA next to lanes' Dockerfile and skips an image whose inputs are unchanged.
[ -f "$here/dist/cli/main.js" ] || { log "build lanes first (npm run build)"; exit 2; }
cd "$(mktemp -d "${TMPDIR:-/tmp}/lanes-image-cwd.XXXXXX")" # not a project: lanes' own Dockerfile
node "$here/bin/lanes.js" images build --tag "$SANDBOX_IMAGE" >&2
