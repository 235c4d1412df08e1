#!/usr/bin/env bash
# The main job, end to end on this machine: set everything up, then in a scratch git
# repository check the machine (`lanes doctor`), write the project files (`lanes init`) and
# validate them. (Later: a real `lanes run` against the replay endpoint.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
lanes="node $PWD/bin/lanes.js"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/lanes-demo.XXXXXX")
git -C "$scratch" init -q -b main
printf '# demo\n' >"$scratch/README.md"
git -C "$scratch" add -A && git -C "$scratch" -c user.name=demo -c user.email=demo@example.invalid commit -qm init
export LANES_HOME=$scratch/.lanes-home LANES_CONFIG_DIR=$scratch/.lanes-config
cd "$scratch"
echo "\$ lanes doctor";           $lanes doctor
echo "\$ lanes init";             $lanes init
echo "\$ lanes config validate";  $lanes config validate
echo "\$ lanes config get lanes.async"; $lanes config get lanes.async
echo "demo repository: $scratch"
