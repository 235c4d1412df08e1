#!/usr/bin/env node
// Plan benchmark, one run: `lanes plan --json` wall time on a small repository, median of N
// (target <= 400 ms), with `node -e 0` and `lanes --version` as baselines and an in-process
// breakdown of the steps. Ledger throughput (SQLite and PostgreSQL, 1 and 8 clients) is
// bench/store.mjs.
//   npm run build && node bench/plan.mjs [N]
import { spawnSync, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const N = Math.max(10, Number(process.argv[2] ?? 12));
const bin = fileURLToPath(new URL("../bin/lanes.js", import.meta.url));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const dir = mkdtempSync(join(tmpdir(), "lanes-bench-plan-"));
const repo = join(dir, "repo");
execFileSync("sh", [
  "-c",
  `mkdir -p ${repo}/src && cd ${repo} && for i in $(seq 1 30); do echo "export const v$i = $i;" > src/f$i.js; done && git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm init`,
]);
writeFileSync(
  join(repo, "lanes.yaml"),
  `tiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: "http://127.0.0.1:1/v1", model: gpt-4.1-mini }]\nbudgets:\n  - { scope: team, period: month, limit: 200 }\n  - { scope: user, period: day, limit: 10, kind: soft }\n`,
);
const env = { ...process.env, LANES_HOME: join(dir, "home"), LANES_CONFIG_DIR: join(dir, "cfg") };
const wall = (args) => {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: repo, env, stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return performance.now() - t;
};
const t = { node: [], version: [], plan: [] };
for (let i = 0; i < N + 2; i++) {
  const a = wall(["-e", "0"]),
    b = wall([bin, "--version"]),
    c = wall([bin, "plan", "fix the failing test in src/f1.js", "--lane", "eval", "--json"]);
  if (i >= 2) {
    t.node.push(a);
    t.version.push(b);
    t.plan.push(c);
  }
}

// In-process breakdown of one plan (warm, as the CLI does it once).
const mark = [];
let t0 = performance.now();
const step = (name) => {
  const now = performance.now();
  mark.push([name, now - t0]);
  t0 = now;
};
process.env.LANES_HOME = env.LANES_HOME;
process.env.LANES_CONFIG_DIR = env.LANES_CONFIG_DIR;
const { loadConfig } = await import("../dist/adapters/config/load.js");
step("import config modules");
const { config } = loadConfig({ repo, flags: { lane: "eval" } });
step("load + validate lanes.yaml");
const { identityOf } = await import("../dist/app/identity.js");
const who = await identityOf(config, repo);
step("identity (git config)");
const { adapters, openLedger, openAudit } = await import("../dist/cli/compose.js");
const ledger = await openLedger();
step("open ledger (better-sqlite3)");
const { planTask } = await import("../dist/app/plan-task.js");
step("import planner (+ openai, gpt-tokenizer)");
const plan = await planTask({
  config,
  root: repo,
  task: "fix the failing test in src/f1.js",
  lane: "eval",
  who,
  ledger,
  adapters,
});
step("planTask (git ls-files, HEAD, count, estimate, decide)");
openAudit(ledger, who.user).append({ action: "plan", decision: plan.decision });
step("audit append");
ledger.close();

console.log(`plan, median of ${N} (small repository, 30 files)`);
console.log(`  node -e 0              ${median(t.node).toFixed(0)} ms`);
console.log(`  lanes --version        ${median(t.version).toFixed(0)} ms`);
console.log(
  `  lanes plan --json      ${median(t.plan).toFixed(0)} ms   ${(median(t.plan) / median(t.node)).toFixed(1)}x bare node   target <= 400 ms`,
);
console.log("  breakdown (in-process, first plan):");
for (const [name, ms] of mark) console.log(`    ${name.padEnd(56)} ${ms.toFixed(1)} ms`);
console.log(
  JSON.stringify({
    bench: "plan",
    n: N,
    nodeMs: Math.round(median(t.node)),
    planMs: Math.round(median(t.plan)),
    breakdown: Object.fromEntries(mark.map(([k, v]) => [k, +v.toFixed(1)])),
  }),
);
