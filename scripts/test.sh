#!/usr/bin/env bash
# The whole test suite on this machine: set-up, every test (unit, CLI, and the real-Docker
# integration tests) on this Node, then the unit and CLI tests again on the current Node LTS.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx vitest run
bash scripts/test-node-lts.sh
