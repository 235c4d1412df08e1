#!/usr/bin/env node
// Run benchmark, one run:
//  1. orchestration overhead per agent step: an agent loop of N steps (each `bash true`) against
//     the replay endpoint at zero latency in a real sandbox; per-step time minus a bare `openai`
//     call to the same server minus a bare sandbox exec of `true`. Target p50 <= 15 ms.
//  2. the README demo end to end (`lanes run` of the sample repository), with its breakdown.
//   npm run build && node bench/run.mjs [N]
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import OpenAI from "openai";
import { runAgent } from "../dist/core/agent.js";
import { firstMessages, TOOLS } from "../dist/core/agent-prompt.js";
import { DockerHost } from "../dist/adapters/docker/host.js";
import { profileSchema } from "../dist/adapters/config/schema.js";
import { OpenAIEndpoint } from "../dist/adapters/models/openai-endpoint.js";
import { scriptSchema } from "../dist/adapters/models/replay-script.js";
import { startReplayServer } from "../dist/adapters/models/replay-server.js";

const N = Math.max(20, Number(process.argv[2] ?? 40));
const root = fileURLToPath(new URL("..", import.meta.url));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const server = await startReplayServer(
  scriptSchema.parse({
    model: "gpt-4.1-mini",
    repeatLast: true,
    turns: [{ tools: [{ bash: { command: "true" } }], usage: { prompt_tokens: 500, completion_tokens: 10 } }],
  }),
);
const endpoint = new OpenAIEndpoint({
  id: "b",
  tier: "standard",
  tierKind: "hosted",
  baseURL: server.url,
  model: "gpt-4.1-mini",
  price: { kind: "priced", price: { inputPerMTok: 0.4, outputPerMTok: 1.6 }, source: "bench" },
  timeoutMs: 10_000,
  fallbacks: [],
});
const host = new DockerHost("local", new Docker());
const repo = mkdtempSync(join(tmpdir(), "lanes-bench-run-"));
cpSync(join(root, "examples/demo/repo"), repo, { recursive: true });
execFileSync("sh", ["-c", "git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm init"], {
  cwd: repo,
});
const sb = await host.acquire({ profileName: "bench", profile: profileSchema.parse({}), repo });
await sb.ready();

// Baselines in the same run.
const bare = new OpenAI({ apiKey: "x", baseURL: server.url, maxRetries: 0 });
const tb = [];
const te = [];
for (let i = 0; i < N; i++) {
  let t = performance.now();
  const s = await bare.chat.completions.create({
    model: "gpt-4.1-mini",
    messages: [{ role: "user", content: "hi" }],
    tools: TOOLS.map((f) => ({ type: "function", function: f })),
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const _ of s);
  tb.push(performance.now() - t);
  t = performance.now();
  await sb.exec({ command: "true", timeoutMs: 5000 });
  te.push(performance.now() - t);
}

// The loop: N steps, recording each step's wall time.
const stepTimes = [];
let last = performance.now();
const meter = { beforeCall: (_p, w) => w, afterCall: () => {}, canAfford: () => true, spentUsd: () => 0 };
const model = {
  countPrompt: async (m) => (await endpoint.countTokens({ messages: m, tools: TOOLS })).tokens,
  complete: (req, hooks) => endpoint.complete(req, { ...hooks, stream: true }),
};
await runAgent(
  firstMessages("bench", ["a.js"]),
  {
    model,
    sandbox: sb,
    meter,
    emit: (e) => {
      if (e.type === "tool_end") {
        const now = performance.now();
        stepTimes.push(now - last);
        last = now;
      }
    },
  },
  { steps: N, wallTimeMs: 600_000, commandTimeoutMs: 10_000, maxTokensPerCall: 256, minTokensPerCall: 1 },
);
await sb.release();
await server.close();
const step = median(stepTimes.slice(2));
const overhead = step - median(tb) - median(te);

// The demo end to end.
const demo = mkdtempSync(join(tmpdir(), "lanes-bench-demo-"));
cpSync(join(root, "examples/demo/repo"), join(demo, "repo"), { recursive: true });
cpSync(join(root, "examples/demo/lanes.yaml"), join(demo, "repo/lanes.yaml"));
execFileSync("sh", ["-c", "git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm init"], {
  cwd: join(demo, "repo"),
});
const env = { ...process.env, LANES_HOME: join(demo, "home"), LANES_CONFIG_DIR: join(demo, "cfg") };
const t0 = performance.now();
const r = spawnSync(
  process.execPath,
  [
    join(root, "bin/lanes.js"),
    "run",
    "Make the failing test pass",
    "--lane",
    "demo",
    "--endpoint",
    `replay:${join(root, "examples/demo/fix-add.replay.yaml")}`,
    "--json",
  ],
  { cwd: join(demo, "repo"), env, encoding: "utf8" },
);
const wall = performance.now() - t0;
const events = r.stdout
  .split("\n")
  .filter(Boolean)
  .map((l) => JSON.parse(l));
const end = events.at(-1);
const traj = JSON.parse(readFileSync(join(env.LANES_HOME, "runs", end.runId, "trajectory.json"), "utf8"));
const sandboxReady = events.find((e) => e.type === "sandbox_ready");
const check = events.find((e) => e.type === "check");

console.log(`agent step, median of ${N - 2} steps (bash true, replay endpoint at zero latency, real sandbox)`);
console.log(`  one step                          ${step.toFixed(1)} ms`);
console.log(`  bare openai streaming call        ${median(tb).toFixed(1)} ms`);
console.log(`  bare sandbox exec of true         ${median(te).toFixed(1)} ms`);
console.log(`  orchestration overhead per step   ${overhead.toFixed(1)} ms   target <= 15 ms`);
console.log(`demo end to end (lanes run, exit ${r.status}): ${(wall / 1000).toFixed(2)} s wall`);
console.log(
  `  sandbox ready ${sandboxReady?.ms} ms; model ${traj.modelMs} ms; tools ${traj.toolMs} ms; check ${check?.ms} ms; ${end.steps} steps; rest (start-up, plan, hold, patch, settle, release) ${(wall - traj.modelMs - traj.toolMs - (check?.ms ?? 0) - (sandboxReady?.ms ?? 0)).toFixed(0)} ms`,
);
console.log(
  JSON.stringify({
    bench: "run",
    stepMs: +step.toFixed(1),
    bareCallMs: +median(tb).toFixed(1),
    bareExecMs: +median(te).toFixed(1),
    overheadMs: +overhead.toFixed(1),
    demo: {
      wallMs: Math.round(wall),
      sandboxMs: sandboxReady?.ms,
      modelMs: traj.modelMs,
      toolMs: traj.toolMs,
      checkMs: check?.ms,
      exit: r.status,
    },
  }),
);
void writeFileSync;
