#!/usr/bin/env bash
# A real llama.cpp server for the local tier's tests, with no model hub:
#  - llama.cpp's source comes from the npm package node-llama-cpp (llama/gitRelease.bundle);
#  - only the llama-server target is built (CPU, -DLLAMA_CURL=OFF), a few minutes the first time;
#  - a tiny random-weight model is generated with the source's gguf-py (scripts/tiny-model.py).
# Everything is cached outside the clone, keyed by the node-llama-cpp version, so later runs
# take a second. Prints the paths as KEY=VALUE lines.
#   scripts/llama-server.sh            # build (if needed) and print LLAMA_SERVER=… LLAMA_MODEL=…
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
VERSION=${LANES_LLAMA_NPM_VERSION:-3.22.1}
CACHE=${LANES_CACHE:-/var/cache/lanes}
dir=$CACHE/llama-$VERSION
log() { printf 'llama-server: %s\n' "$*" >&2; }

if [ ! -x "$dir/bin/llama-server" ]; then
  command -v cmake >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake >/dev/null; }
  work=$(mktemp -d "${TMPDIR:-/tmp}/lanes-llama.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  log "fetching llama.cpp's source from node-llama-cpp@$VERSION"
  (cd "$work" && npm pack "node-llama-cpp@$VERSION" --silent >/dev/null && tar xzf node-llama-cpp-*.tgz package/llama/gitRelease.bundle)
  git clone -q "$work/package/llama/gitRelease.bundle" "$work/src"
  (cd "$work/src" && git checkout -q "$(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo HEAD)")
  log "building llama-server (a few minutes, once)"
  cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF >"$work/cmake.log" 2>&1 \
    || { tail -n 30 "$work/cmake.log" >&2; exit 1; }
  cmake --build "$work/build" --target llama-server -j "$(nproc)" >"$work/build.log" 2>&1 \
    || { tail -n 30 "$work/build.log" >&2; exit 1; }
  mkdir -p "$dir/bin"
  cp "$work/build/bin/llama-server" "$dir/bin/"
  # Keep what the model generator needs.
  mkdir -p "$dir/src/models"
  cp -r "$work/src/gguf-py" "$dir/src/"
  cp "$work/src/models/ggml-vocab-llama-spm.gguf" "$dir/src/models/"
fi

if [ ! -s "$dir/tiny.gguf" ]; then
  py=python3
  if ! "$py" -c 'import numpy' 2>/dev/null; then
    if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then py=/usr/bin/python3
    elif [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-numpy >/dev/null; py=/usr/bin/python3
    else log "numpy is needed (apt-get install python3-numpy)"; exit 1; fi
  fi
  PYTHONPATH="$dir/src/gguf-py" "$py" "$here/tiny-model.py" "$dir/src" "$dir/tiny.gguf.tmp" >&2
  mv "$dir/tiny.gguf.tmp" "$dir/tiny.gguf"
fi
printf 'LLAMA_SERVER=%s\nLLAMA_MODEL=%s\n' "$dir/bin/llama-server" "$dir/tiny.gguf"
