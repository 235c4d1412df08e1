#!/usr/bin/env bash
# The whole test suite on this machine: set-up, every test (unit, CLI, and the real-Docker
# integration tests) on this Node, then the unit and CLI tests again on the current Node LTS.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Lint (typescript-eslint and the layers' import boundaries) and format (Prettier, 120 columns).
npx eslint src test bench
npx prettier --check . >/dev/null || { npx prettier --list-different .; echo "run: npm run format" >&2; exit 1; }
# tmux drives the real-terminal approval test.
command -v tmux >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null; }
# A real llama.cpp server and a tiny model for the local-tier tests (cached; ~5 min the first time).
bash scripts/llama-server.sh >/dev/null
# A real PostgreSQL server (Debian's package) on loopback for the team-store tests.
bash scripts/postgres.sh >/dev/null
# The second Docker engine (tcp + mutual TLS in a network namespace) for the remote-host tests.
bash scripts/remote-docker.sh up >/dev/null
trap 'bash scripts/remote-docker.sh down' EXIT
npx vitest run
bash scripts/test-node-lts.sh
