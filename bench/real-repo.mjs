#!/usr/bin/env node
// Real repositories, one run: the fixture with npm dev dependencies (test/fixtures/deps-repo)
// prepared for a run three ways, each to the point where its `npm test` passes in the sandbox —
// the first run (setup `npm ci` through the allowlist proxy, then cached as an image layer), a
// cached run (FROM that layer, no network), and for scale the demo repository with no
// dependencies — plus sandbox acquire and `exec true` under runc and under runsc (gVisor).
// Medians of N (default 3; the first run is one measurement by nature).
//   npm run build && node bench/real-repo.mjs [N]
import { cpSync, mkdtempSync } from "node:fs";
import { execFileSync, spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { DockerHost } from "../dist/adapters/docker/host.js";
import { profileSchema, laneSchema } from "../dist/adapters/config/schema.js";
import { runSetup, setupProfile } from "../dist/app/setup-step.js";

const N = Math.max(1, Number(process.argv[2] ?? 3));
const root = fileURLToPath(new URL("..", import.meta.url));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const repoFrom = (dir) => {
  const r = mkdtempSync(join(tmpdir(), "lanes-bench-real-"));
  cpSync(dir, r, { recursive: true });
  execFileSync("sh", ["-c", "git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm i"], {
    cwd: r,
  });
  return r;
};
const host = new DockerHost("local", new Docker());
const deps = repoFrom(join(root, "test/fixtures/deps-repo"));
const demo = repoFrom(join(root, "examples/demo/repo"));
const setup = laneSchema.parse({
  tiers: ["standard"],
  setup: { commands: ["npm ci --no-audit --no-fund", `echo bench-${Date.now()}`], key: ["package-lock.json"] },
}).setup;
const base = profileSchema.parse({});

/** Acquire (FROM the cache, or with egress for the setup), run the setup, then `npm test`. */
async function prepared(repo, withSetup) {
  const t0 = performance.now();
  const p = withSetup ? await setupProfile(host, setup, repo, base) : { profile: base, cached: false };
  const sb = await host.acquire({ profileName: "default", profile: p.profile, repo });
  try {
    if (withSetup) await runSetup(sb, setup, p, base.network, () => {});
    const r = await sb.exec({ command: withSetup ? "npm test" : "node --test", timeoutMs: 120_000 });
    if (withSetup && r.exitCode !== 0) throw new Error(`npm test failed: ${r.stderr}`);
    return { ms: performance.now() - t0, cached: p.cached, tag: p.tag };
  } finally {
    await sb.release();
  }
}

const first = await prepared(deps, true);
const cached = [];
for (let i = 0; i < N; i++) cached.push((await prepared(deps, true)).ms);
const plain = [];
for (let i = 0; i < N; i++) plain.push((await prepared(demo, false)).ms);
spawnSync("docker", ["rmi", "-f", first.tag]);

const runtimes = {};
for (const runtime of ["runc", "runsc"]) {
  const acquire = [];
  const exec = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const sb = await host.acquire({ profileName: "default", profile: profileSchema.parse({ runtime }), repo: demo });
    await sb.ready();
    acquire.push(performance.now() - t0);
    for (let k = 0; k < 5; k++) {
      const t1 = performance.now();
      await sb.exec({ command: "true", timeoutMs: 10_000 });
      exec.push(performance.now() - t1);
    }
    await sb.release();
  }
  runtimes[runtime] = { acquire: median(acquire), exec: median(exec) };
}

const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
console.log(`deps fixture, first run (npm ci through the allowlist, cached after): ${s(first.ms)}`);
console.log(
  `deps fixture, cached run (FROM the cache, no network), median of ${N}: ${s(median(cached))} = ${(median(cached) / first.ms).toFixed(2)}x the first`,
);
console.log(`demo repository, no dependencies, median of ${N}: ${s(median(plain))}`);
for (const [r, v] of Object.entries(runtimes))
  console.log(`${r}: acquire (copy + base commit) ${v.acquire.toFixed(0)} ms, exec true ${v.exec.toFixed(1)} ms`);
console.log(
  `runsc / runc: acquire ${(runtimes.runsc.acquire / runtimes.runc.acquire).toFixed(2)}x, exec ${(runtimes.runsc.exec / runtimes.runc.exec).toFixed(2)}x`,
);
