#!/usr/bin/env bash
# Everything lanes needs on this machine, idempotent and fast when already done:
# npm dependencies, the build, a running Docker engine and the offline sandbox image.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'setup: %s\n' "$*" >&2; }

major=$(node -p 'process.versions.node.split(".")[0]')
minor=$(node -p 'process.versions.node.split(".")[1]')
if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
  log "Node >= 20.19 is required (found $(node --version))"; exit 2
fi

# libpq's headers, for the optional libpq addon (the PostgreSQL store's fast driver; without it
# lanes falls back to a worker thread). Debian's package, installed where we may.
if ! command -v pg_config >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing libpq-dev (headers for the libpq addon)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpq-dev >/dev/null
fi

# npm ci only when the lockfile changed since the last install (a stamp in node_modules).
stamp=node_modules/.lanes-lock-$(sha256sum package-lock.json | cut -c1-16)-$(node -p process.versions.modules)
if [ ! -f "$stamp" ]; then
  log "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
log "building"
npm run build --silent
bash scripts/ensure-docker.sh
bash scripts/build-image.sh
log "ready"
