#!/usr/bin/env node
// Gateway benchmark, one run: the same client (the openai module) calls the replay endpoint
// directly, then through the model gateway (token check, count, worst case charged against a
// hold in a SQLite ledger, forwarded, settled, audited), interleaved in blocks. Reports the
// median per-call time of non-streamed calls (target: gateway <= 1.1x direct) and the median
// time to the first streamed token (target: <= 5 ms added), for a short prompt and for one the
// size of Codex CLI's (~40 KB of instructions and tool schemas), and with the endpoint answering
// at once or after 50 ms (a hosted API is never faster than that).
//   npm run build && node bench/gateway.mjs [CALLS]
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

process.env.LANES_HOME = mkdtempSync(join(tmpdir(), "lanes-bench-gw-"));
const N = Number(process.argv[2] ?? 200);
const { default: OpenAI } = await import("openai");
const { startReplayServer } = await import("../dist/adapters/models/replay-server.js");
const { scriptSchema } = await import("../dist/adapters/models/replay-script.js");
const { OpenAIEndpoint } = await import("../dist/adapters/models/openai-endpoint.js");
const { startGateway } = await import("../dist/adapters/gateway/server.js");
const { GatewayCalls } = await import("../dist/app/gateway-calls.js");
const { HoldMeter } = await import("../dist/app/meter.js");
const { openLedger, openAudit } = await import("../dist/cli/compose.js");

const price = { inputPerMTok: 0.4, outputPerMTok: 1.6 };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const bucket = {
  key: "team:bench:month:2026-12",
  scope: "team",
  id: "bench",
  period: "month",
  unit: "usd",
  limit: 1e9,
  kind: "hard",
  resetsAt: "2027-01-01T00:00:00.000Z",
};

async function setup(delayMs) {
  const script = scriptSchema.parse({
    model: "gpt-4.1-mini",
    repeatLast: true,
    turns: [{ say: "Done: add() now returns a + b and the tests pass.", ...(delayMs ? { delayMs } : {}) }],
  });
  const replay = await startReplayServer(script);
  const ep = new OpenAIEndpoint({
    id: "ep",
    tier: "standard",
    tierKind: "hosted",
    baseURL: replay.url,
    model: "gpt-4.1-mini",
    price: { kind: "priced", price, source: "bench" },
    timeoutMs: 30_000,
    fallbacks: [],
  });
  const ledger = await openLedger();
  const audit = openAudit(ledger, "bench");
  const hold = ledger.reserve({ runId: "bench", lane: "bench", buckets: [bucket], caps: { usd: 1e6 }, ttlMs: 3.6e6 });
  const calls = new GatewayCalls({
    endpoints: new Map([["ep", ep]]),
    endpointId: "ep",
    costClasses: { C1: 0.1, C2: 1, C3: 10 },
    meter: new HoldMeter(ledger, hold.id, 1e6, price),
    emit: () => {},
    audit,
    runId: "bench",
    limits: { steps: 1e9, maxTokensPerCall: 256, minTokensPerCall: 16 },
    signal: new AbortController().signal,
    onStop: () => {},
  });
  const token = "bench-token-0123456789abcdef";
  const gw = await startGateway(token, {
    call: (c, p, io) => calls.call(c, p, io),
    countTokens: async (c) => (await ep.countTokens(c)).tokens,
  });
  const direct = new OpenAI({ baseURL: replay.url, apiKey: "k", maxRetries: 0 });
  const gated = new OpenAI({ baseURL: `http://127.0.0.1:${gw.port}/v1`, apiKey: token, maxRetries: 0 });
  const close = async () => {
    await gw.close();
    await replay.close();
    ledger.close();
  };
  return { direct, gated, close };
}

async function once(client, messages, stream) {
  const t0 = performance.now();
  if (!stream) {
    await client.chat.completions.create({ model: "m", messages, max_tokens: 256 });
    return performance.now() - t0;
  }
  const s = await client.chat.completions.create({ model: "m", messages, max_tokens: 256, stream: true });
  let first;
  for await (const chunk of s)
    if (first === undefined && chunk.choices[0]?.delta?.content) first = performance.now() - t0;
  return first;
}

/** Interleaved blocks of 10, so a noisy moment hits both sides alike. */
async function compare(env, messages, stream) {
  const a = [];
  const b = [];
  for (let i = 0; i < 3; i++) {
    await once(env.direct, messages, stream);
    await once(env.gated, messages, stream);
  }
  for (let i = 0; i < N; i += 10) {
    for (let k = 0; k < 10; k++) a.push(await once(env.direct, messages, stream));
    for (let k = 0; k < 10; k++) b.push(await once(env.gated, messages, stream));
  }
  return { direct: median(a), gateway: median(b) };
}

const short = [{ role: "user", content: "Make the failing test pass." }];
const codexSized = [
  { role: "system", content: "You are a coding agent. ".repeat(1700) },
  { role: "user", content: "Make the failing test pass." },
];
console.log(`gateway overhead, ${N} calls per side, median ms (node ${process.version})`);
console.log("endpoint delay  prompt       non-streamed direct/gateway (ratio)   first token direct/gateway (+ms)");
for (const delay of [0, 50]) {
  const env = await setup(delay);
  for (const [name, messages] of [
    ["short", short],
    ["codex-sized", codexSized],
  ]) {
    const whole = await compare(env, messages, false);
    const first = await compare(env, messages, true);
    console.log(
      `${String(delay).padStart(8)} ms   ${name.padEnd(12)} ${whole.direct.toFixed(2).padStart(7)} / ${whole.gateway.toFixed(2).padStart(7)}` +
        ` (${(whole.gateway / whole.direct).toFixed(2)}x)` +
        `          ${first.direct.toFixed(2).padStart(7)} / ${first.gateway.toFixed(2).padStart(7)} (+${(first.gateway - first.direct).toFixed(2)})`,
    );
  }
  await env.close();
}
