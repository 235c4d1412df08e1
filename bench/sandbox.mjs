#!/usr/bin/env node
// Sandbox benchmark, one run, one image, medians of N (default 10):
//   baselines: `docker run --rm IMAGE true` and `docker exec CONTAINER true` through the docker CLI
//   lanes:     cold acquire (create + start + copy a small repo + base commit), warm-pool acquire
//              (claim + copy + base commit), and exec of `true` in a sandbox.
// Targets: cold <= 1.0x docker run; warm p50 <= 100 ms; exec p50 <= 0.8x docker exec.
//   npm run build && node bench/sandbox.mjs [N]
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { DockerHost } from "../dist/adapters/docker/host.js";
import { profileSchema } from "../dist/adapters/config/schema.js";

const N = Math.max(5, Number(process.argv[2] ?? 10));
const IMAGE = "lanes-sandbox:latest";
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const time = async (fn) => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};

// A small repository: 20 files.
const repo = mkdtempSync(join(tmpdir(), "lanes-bench-"));
for (let i = 0; i < 20; i++) {
  mkdirSync(join(repo, `src/m${i % 4}`), { recursive: true });
  writeFileSync(join(repo, `src/m${i % 4}/f${i}.js`), `export const v${i} = ${i};\n`.repeat(20));
}
execFileSync("sh", ["-c", "git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm init"], {
  cwd: repo,
});

const host = new DockerHost("local", new Docker());
const results = {};

// Baselines through the docker CLI.
results.dockerRun = [];
for (let i = 0; i < N; i++)
  results.dockerRun.push(await time(() => spawnSync("docker", ["run", "--rm", "--network", "none", IMAGE, "true"])));
const baseCid = execFileSync("docker", ["run", "-d", "--rm", "--network", "none", IMAGE, "sleep", "600"], {
  encoding: "utf8",
}).trim();
results.dockerExec = [];
for (let i = 0; i < N; i++) results.dockerExec.push(await time(() => spawnSync("docker", ["exec", baseCid, "true"])));
execFileSync("docker", ["rm", "-f", baseCid]);

// lanes cold acquire (no pool), release not counted. "acquire" returns once the repository is
// copied in; "+ first command" also waits for the base commit that acquire starts in the background.
const cold = profileSchema.parse({});
results.coldAcquire = [];
results.coldFirst = [];
for (let i = 0; i < N; i++) {
  let sb;
  const t0 = performance.now();
  results.coldAcquire.push(
    await time(async () => (sb = await host.acquire({ profileName: "bench-cold", profile: cold, repo }))),
  );
  await sb.exec({ command: "true", timeoutMs: 10_000 });
  results.coldFirst.push(performance.now() - t0);
  await sb.release();
}

// Exec in one sandbox.
const sb = await host.acquire({ profileName: "bench-cold", profile: cold, repo });
results.exec = [];
for (let i = 0; i < N * 3; i++) results.exec.push(await time(() => sb.exec({ command: "true", timeoutMs: 10_000 })));
await sb.release();

// Warm pool: refill settles between acquisitions (as in a batch with free slots).
const warm = profileSchema.parse({ pool: 2 });
await host.refill("bench-warm", warm);
results.warmAcquire = [];
results.warmFirst = [];
for (let i = 0; i < N; i++) {
  await host.settle();
  await new Promise((r) => setTimeout(r, 200)); // let the new pool member's shim come up
  let s;
  const t0 = performance.now();
  results.warmAcquire.push(
    await time(async () => (s = await host.acquire({ profileName: "bench-warm", profile: warm, repo }))),
  );
  await s.exec({ command: "true", timeoutMs: 10_000 });
  results.warmFirst.push(performance.now() - t0);
  if (!s.info.fromPool) throw new Error("warm acquire did not come from the pool");
  await s.release();
}
await host.settle();
for (const s of await host.list()) if (s.profile.startsWith("bench-")) await host.remove(s);

const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
const line = (name, ms, ratio, target) =>
  console.log(
    `  ${name.padEnd(34)} ${ms.toFixed(1).padStart(7)} ms${ratio ? `   ${ratio}` : ""}${target ? `   target ${target}` : ""}`,
  );
console.log(`sandbox benchmark, medians of ${N} (exec: ${N * 3}), image ${IMAGE}`);
line("docker run --rm IMAGE true (CLI)", m.dockerRun);
line("docker exec CONTAINER true (CLI)", m.dockerExec);
line(
  "lanes cold acquire (+ repo copy)",
  m.coldAcquire,
  `${(m.coldAcquire / m.dockerRun).toFixed(2)}x docker run`,
  "<= 1.0x",
);
line("  ... + base commit + first command", m.coldFirst, `${(m.coldFirst / m.dockerRun).toFixed(2)}x docker run`);
line("lanes warm-pool acquire (+ repo copy)", m.warmAcquire, "", "<= 100 ms");
line("  ... + base commit + first command", m.warmFirst);
line("lanes exec `true`", m.exec, `${(m.exec / m.dockerExec).toFixed(2)}x docker exec`, "<= 0.8x");
console.log(
  JSON.stringify({
    bench: "sandbox",
    n: N,
    medianMs: m,
    ratios: {
      coldVsDockerRun: +(m.coldAcquire / m.dockerRun).toFixed(2),
      coldFirstVsDockerRun: +(m.coldFirst / m.dockerRun).toFixed(2),
      execVsDockerExec: +(m.exec / m.dockerExec).toFixed(2),
    },
  }),
);
