#!/usr/bin/env node
// Batch benchmark: 40 tasks (one repository each), the replay endpoint at zero model latency, a
// trivial check, concurrency 4. Compares the batch's wall time with the ideal (sum of the tasks'
// own durations / 4; target <= 1.3x) and with a shell loop of 40 `lanes run` calls.
//   npm run build && node bench/batch.mjs [TASKS]
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const N = Number(process.argv[2] ?? 40);
const root = fileURLToPath(new URL("..", import.meta.url));
const bin = join(root, "bin/lanes.js");
const dir = mkdtempSync(join(tmpdir(), "lanes-bench-batch-"));
const env = { ...process.env, LANES_HOME: join(dir, "home"), LANES_CONFIG_DIR: join(dir, "cfg"), LANES_USER: "bench" };
mkdirSync(join(dir, "repos"));
for (let i = 0; i < N; i++) {
  const r = join(dir, "repos", `r${String(i).padStart(2, "0")}`);
  cpSync(join(root, "examples/demo/repo"), r, { recursive: true });
  spawnSync("sh", ["-c", "git init -q -b main && git add -A && git -c user.name=b -c user.email=b@b commit -qm init"], {
    cwd: r,
  });
}
writeFileSync(
  join(dir, "script.yaml"),
  "model: gpt-4.1-mini\nturns:\n  - tools: [{ bash: { command: 'true' } }]\n  - tools: [{ finish: { summary: done } }]\n",
);
const replay = spawn(process.execPath, [bin, "endpoints", "replay", join(dir, "script.yaml"), "--json"], {
  env,
  stdio: ["ignore", "pipe", "ignore"],
});
const url = await new Promise((resolve) => replay.stdout.once("data", (d) => resolve(JSON.parse(d.toString()).url)));
writeFileSync(
  join(dir, "lanes.yaml"),
  `tiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: "${url}", model: gpt-4.1-mini }]\nlanes:\n  b: { tiers: [standard], budget: { capUsd: 0.05 }, approval: { mode: auto, autoApproveUpTo: C2 }, check: "true", concurrency: 8 }\nhosts:\n  local: { capacity: 4 }\n`,
);
spawnSync("git", ["init", "-q"], { cwd: dir });
writeFileSync(
  join(dir, "batch.yaml"),
  `lane: b\nbudget: { capUsd: 10 }\nconcurrency: 4\nmatrix:\n  repos: ["repos/*"]\n  task: "bench"\n`,
);

let t = performance.now();
const b = spawnSync(process.execPath, [bin, "batch", "batch.yaml", "--json"], {
  cwd: dir,
  env,
  encoding: "utf8",
  maxBuffer: 64 * 1024 * 1024,
});
const batchWall = performance.now() - t;
const events = b.stdout
  .split("\n")
  .filter(Boolean)
  .map((l) => JSON.parse(l));
const done = events.filter((e) => e.type === "task" && e.status === "succeeded");
const sum = done.reduce((n, e) => n + e.durationMs, 0);
const ideal = sum / 4;

// The same tasks as a shell loop of `lanes run` (each repository gets the same lanes.yaml).
const yaml = readFileSync(join(dir, "lanes.yaml"), "utf8");
for (let i = 0; i < N; i++) writeFileSync(join(dir, "repos", `r${String(i).padStart(2, "0")}`, "lanes.yaml"), yaml);
let ok = 0;
t = performance.now();
for (let i = 0; i < N; i++) {
  const r = spawnSync(process.execPath, [bin, "run", "bench", "--lane", "b", "--json"], {
    cwd: join(dir, "repos", `r${String(i).padStart(2, "0")}`),
    env,
    encoding: "utf8",
  });
  if (r.status === 0) ok++;
  else if (ok === 0) console.error(r.stderr);
}
const loopWall = performance.now() - t;
replay.kill();

console.log(`batch of ${N} tasks, concurrency 4 (exit ${b.status}; ${done.length} succeeded)`);
console.log(`  batch wall time                 ${(batchWall / 1000).toFixed(1)} s`);
console.log(
  `  ideal (sum of task times / 4)   ${(ideal / 1000).toFixed(1)} s   ratio ${(batchWall / ideal).toFixed(2)}x   target <= 1.3x`,
);
console.log(
  `  shell loop of ${N} lanes run     ${(loopWall / 1000).toFixed(1)} s (${ok} succeeded)   batch is ${(loopWall / batchWall).toFixed(1)}x faster`,
);
console.log(
  JSON.stringify({
    bench: "batch",
    tasks: N,
    batchMs: Math.round(batchWall),
    idealMs: Math.round(ideal),
    ratio: +(batchWall / ideal).toFixed(2),
    loopMs: Math.round(loopWall),
  }),
);
