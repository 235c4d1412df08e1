#!/usr/bin/env node
// A 10,000-task batch `--dry-run` over 10 repositories (the bound in the README: under 10 s and
// 300 MB on the test machine), against one `lanes plan --json` of the same task measured in the
// same run: the ratio says what one task costs inside a batch plan compared with planning it alone.
//   npm run build && node bench/batch-dry-run.mjs [TASKS]
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const N = Number(process.argv[2] ?? 10_000);
const root = fileURLToPath(new URL("..", import.meta.url));
const bin = join(root, "bin/lanes.js");
const dir = mkdtempSync(join(tmpdir(), "lanes-bench-dry-"));
const env = { ...process.env, LANES_HOME: join(dir, "home"), LANES_CONFIG_DIR: join(dir, "cfg"), LANES_USER: "bench" };
for (let i = 0; i < 10; i++) {
  const r = join(dir, `r${i}`);
  cpSync(join(root, "examples/demo/repo"), r, { recursive: true });
  spawnSync("sh", ["-c", "git init -q -b main && git add -A && git -c user.name=b -c user.email=b@b commit -qm init"], {
    cwd: r,
  });
}
spawnSync("git", ["init", "-q"], { cwd: dir });
const config =
  `tiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: "http://127.0.0.1:9/v1", model: gpt-4.1-mini }]\n` +
  `lanes:\n  b: { tiers: [standard], budget: { capUsd: 0.25 }, concurrency: 8 }\n`;
writeFileSync(join(dir, "lanes.yaml"), config);
writeFileSync(join(dir, "r0", "lanes.yaml"), config); // the single plan runs there (one repository has its own)
let batch = "lane: b\nbudget: { capUsd: 100000 }\ntasks:\n";
for (let i = 0; i < N; i++) batch += `  - { repo: r${i % 10}, task: "Make the failing test pass (${i})" }\n`;
writeFileSync(join(dir, "batch.yaml"), batch);

const timed = (args, cwd = dir) => {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", process.execPath, bin, ...args], {
    cwd,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  if (r.status !== 0) throw new Error(`lanes ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  const [secs, kb] = r.stderr.toString().trim().split("\n").pop().split(" ").map(Number);
  return { secs, mb: kb / 1024 };
};
const one = [1, 2, 3].map(() =>
  timed(["plan", "Make the failing test pass (0)", "--lane", "b", "--json"], join(dir, "r0")),
);
const plan = one.map((r) => r.secs).sort()[1];
const b = timed(["batch", "batch.yaml", "--dry-run", "--json"]);
console.log(`one plan (median of 3): ${(plan * 1000).toFixed(0)} ms`);
console.log(`batch --dry-run of ${N} tasks: ${b.secs.toFixed(2)} s, max RSS ${b.mb.toFixed(0)} MB`);
console.log(`per task: ${((b.secs / N) * 1000).toFixed(2)} ms = ${(b.secs / N / plan).toFixed(4)}x one plan`);
