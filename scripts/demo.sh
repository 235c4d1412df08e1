#!/usr/bin/env bash
# The main job, end to end on this machine, with no API key: set everything up, then on a copy
# of the sample repository in examples/demo (one failing test) show the plan (cost class, quota,
# decision) and run the agent in a real hardened sandbox against the replay endpoint (a recorded
# fix): the steps, the check passing, the patch applied — then the run's timeline, the quota and
# the audit chain.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
bash scripts/setup.sh
lanes() { node "$here/bin/lanes.js" "$@"; }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/lanes-demo.XXXXXX")
cp -r examples/demo/repo "$scratch/repo"
cp examples/demo/lanes.yaml "$scratch/repo/lanes.yaml"
cd "$scratch/repo"
git init -q -b main && git add -A && git -c user.name=demo -c user.email=demo@example.invalid commit -qm "demo: a failing test"
export LANES_HOME=$scratch/home LANES_CONFIG_DIR=$scratch/config LANES_USER=demo
task="Make the failing test pass without changing the test."
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step lanes plan "\"$task\"" --lane demo;  lanes plan "$task" --lane demo
step lanes run "\"$task\"" --lane demo --endpoint replay:examples/demo/fix-add.replay.yaml --apply
lanes run "$task" --lane demo --endpoint "replay:$here/examples/demo/fix-add.replay.yaml" --apply
step git diff;                  git --no-pager diff
step lanes runs show LAST;      lanes runs show "$(lanes runs ls --json | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0))[0].id)')"
step lanes quota;               lanes quota
step lanes audit verify;        lanes audit verify
printf '\ndemo repository: %s/repo\n' "$scratch"
