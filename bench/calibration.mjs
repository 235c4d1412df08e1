#!/usr/bin/env node
// Calibration benchmark: do plans of a local endpoint match what its runs cost?
// A corpus of scripted runs of different sizes (2-7 steps, 20-160 completion tokens per step,
// tool output of 40-400 lines) goes through `lanes plan` then `lanes run`, one after the other,
// with history building up. The model is the real llama-server (scripts/llama-server.sh) behind a
// replaying proxy: every request is forwarded to llama.cpp as lanes sent it (so prompt processing,
// its prompt cache and generation are real and timed by the server) with max_tokens set to the
// script's completion size, and the answer's content is the script's tool call. The local tier is
// priced per GPU-hour, so a run's cost is the GPU time lanes charged for it.
// Prints, for the first run and for runs after 10 of history: p90 coverage (share of runs whose
// actual cost <= the plan's p90) and the median of actual / p50. Targets after 10 runs: coverage
// >= 90 %, median actual / p50 within 0.5-2.
//   npm run build && node bench/calibration.mjs [RUNS]      (default 30; needs Docker)
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const RUNS = Math.max(12, Number(process.argv[2] ?? 30));
const root = fileURLToPath(new URL("..", import.meta.url));
const bin = join(root, "bin", "lanes.js");
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// A seeded corpus, so every run of the benchmark replays the same runs.
let seed = 42;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const between = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const corpus = Array.from({ length: RUNS }, () => {
  const steps = between(2, 7);
  return Array.from({ length: steps }, (_, i) => ({
    completion: between(20, 160),
    tool:
      i === steps - 1
        ? { name: "finish", arguments: JSON.stringify({ summary: "done" }) }
        : { name: "bash", arguments: JSON.stringify({ command: `seq 1 ${between(40, 400)}` }) },
  }));
});

// The real llama-server.
const paths = Object.fromEntries(
  spawnSync("bash", [join(root, "scripts/llama-server.sh")], { encoding: "utf8" })
    .stdout.trim()
    .split("\n")
    .map((l) => l.split("=")),
);
const llamaPort = 20000 + Math.floor(Math.random() * 20000);
const llama = spawn(
  paths.LLAMA_SERVER,
  [
    "-m",
    paths.LLAMA_MODEL,
    "--port",
    String(llamaPort),
    "--host",
    "127.0.0.1",
    "--jinja",
    "-np",
    "1",
    "-c",
    "32768",
    "--override-kv",
    "llama.context_length=int:32768",
  ],
  { stdio: "ignore" },
);
const llamaURL = `http://127.0.0.1:${llamaPort}`;
for (let i = 0; ; i++) {
  const ok = await fetch(`${llamaURL}/health`).then(
    (r) => r.ok,
    () => false,
  );
  if (ok) break;
  if (i > 300) throw new Error("llama-server did not start");
  await new Promise((r) => setTimeout(r, 100));
}

// The replaying proxy: run i of the corpus is the i-th conversation it sees.
const conversations = new Map();
const proxy = createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks);
  if (req.url !== "/v1/chat/completions") {
    const r = await fetch(`${llamaURL}${req.url}`, {
      method: req.method,
      headers: { "content-type": "application/json" },
      ...(req.method === "POST" ? { body } : {}),
    });
    res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "application/json" });
    res.end(Buffer.from(await r.arrayBuffer()));
    return;
  }
  const conv = String(req.headers["x-lanes-conversation"] ?? "none");
  if (!conversations.has(conv)) conversations.set(conv, { run: conversations.size, step: 0 });
  const c = conversations.get(conv);
  const script = corpus[c.run % corpus.length];
  const turn = script[Math.min(c.step++, script.length - 1)];
  const asked = JSON.parse(body.toString());
  const { stream, stream_options: _so, ...rest } = asked;
  const max = Math.min(turn.completion, asked.max_tokens ?? turn.completion);
  const r = await fetch(`${llamaURL}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...rest, max_tokens: max, ignore_eos: true, cache_prompt: true, stream: false }),
  });
  const real = await r.json();
  const call = { index: 0, id: `call_${c.step}`, type: "function", function: turn.tool };
  const base = { id: real.id, object: "chat.completion", created: real.created, model: asked.model };
  if (!stream) {
    const message = { role: "assistant", content: null, tool_calls: [call] };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ ...base, choices: [{ index: 0, message, finish_reason: "tool_calls" }], ...pick(real) }));
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream" });
  const send = (o) => res.write(`data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", ...o })}\n\n`);
  send({ choices: [{ index: 0, delta: { role: "assistant", tool_calls: [call] }, finish_reason: null }] });
  send({ choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] });
  send({ choices: [], ...pick(real) });
  res.end("data: [DONE]\n\n");
});
const pick = (real) => ({ usage: real.usage, timings: real.timings });
await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
const proxyURL = `http://127.0.0.1:${proxy.address().port}/v1`;

// A repository with a lane on the local tier, priced at $3,600 per GPU-hour: $1 per GPU-second.
const dir = mkdtempSync(join(tmpdir(), "lanes-bench-cal-"));
const repo = join(dir, "repo");
spawnSync("sh", ["-c", `mkdir -p ${repo} && cp -r ${join(root, "examples/demo/repo")}/. ${repo}`]);
spawnSync("sh", ["-c", "git init -q -b main && git add -A && git -c user.name=b -c user.email=b@b commit -qm init"], {
  cwd: repo,
});
writeFileSync(
  join(repo, "lanes.yaml"),
  `tiers:\n  local:\n    endpoints:\n` +
    `      - { id: llama, baseURL: "${proxyURL}", model: tiny.gguf, price: { gpuHourUsd: 3600 } }\n` +
    `lanes:\n  cal:\n    tiers: [local]\n    check: "true"\n    budget: { capUsd: 1000 }\n` +
    `    limits: { steps: 12, wallTime: 5m, commandTimeout: 30s }\n`,
);
const env = {
  ...process.env,
  LANES_HOME: join(dir, "home"),
  LANES_CONFIG_DIR: join(dir, "config"),
  CI: "true",
  NO_COLOR: "1",
};
// Async: the proxy answers from this process while lanes runs.
const lanes = (args) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: repo, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 2) reject(new Error(`lanes ${args.join(" ")}: ${stderr}${stdout}`));
      else resolve({ code, stdout, stderr });
    });
  });

const rows = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const task = "tidy the repository";
    const plan = JSON.parse((await lanes(["plan", task, "--lane", "cal", "--json"])).stdout);
    if (process.env.CAL_DEBUG) console.log(JSON.stringify(plan.cost), dir);
    const run = await lanes(["run", task, "--lane", "cal", "--json", "--yes"]);
    const end = run.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l))
      .find((e) => e.type === "run_end");
    if (!end) throw new Error(`run ${i} did not end: ${run.stderr.slice(-800)}`);
    const actual = end.cost.actualUsd;
    const row = {
      i,
      steps: corpus[i].length,
      p50: plan.cost.p50Usd,
      p90: plan.cost.p90Usd,
      actual,
      status: end.status,
    };
    rows.push(row);
    const ratio = actual / row.p50;
    process.stdout.write(
      `run ${String(i + 1).padStart(2)}: ${row.steps} steps, actual ${(actual * 1000).toFixed(1)} ms of GPU,` +
        ` p50 ${(row.p50 * 1000).toFixed(1)} / p90 ${(row.p90 * 1000).toFixed(1)} ms` +
        ` (actual/p50 ${ratio.toFixed(2)}${actual <= row.p90 ? "" : ", above p90"})\n`,
    );
  }
} finally {
  proxy.close();
  llama.kill("SIGKILL");
}

const summary = (rs) => ({
  runs: rs.length,
  coverage: rs.filter((r) => r.actual <= r.p90).length / rs.length,
  medianRatio: median(rs.map((r) => r.actual / r.p50)),
});
const first = summary(rows.slice(0, 1));
const after = summary(rows.slice(10));
console.log(
  `\nfirst run (no history): actual/p50 ${first.medianRatio.toFixed(2)}, ` +
    `${first.coverage ? "within" : "above"} its p90`,
);
console.log(
  `after 10 runs of history (${after.runs} runs): p90 coverage ${(after.coverage * 100).toFixed(0)}% ` +
    `(target >= 90%), median actual/p50 ${after.medianRatio.toFixed(2)} (target 0.5-2)`,
);
const met = after.coverage >= 0.9 && after.medianRatio >= 0.5 && after.medianRatio <= 2;
console.log(met ? "targets met" : "TARGETS NOT MET");
process.exitCode = met ? 0 : 1;
