#!/usr/bin/env node
// Endpoint-layer benchmark, one run:
//  1. per-call overhead of lanes' endpoint (token count, rate limiter, retry loop, streaming
//     accumulation, usage and cost) against a bare `openai` client call, both streaming from
//     the same replay server at zero latency. Target: <= 1.1x.
//  2. prompt token counting throughput for a 200 KB prompt (gpt-tokenizer, o200k).
//   npm run build && node bench/endpoints.mjs [N]
import OpenAI from "openai";
import { OpenAIEndpoint } from "../dist/adapters/models/openai-endpoint.js";
import { scriptSchema } from "../dist/adapters/models/replay-script.js";
import { startReplayServer } from "../dist/adapters/models/replay-server.js";
import { countChatTokens } from "../dist/adapters/models/tokens.js";

const N = Math.max(20, Number(process.argv[2] ?? 200));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const server = await startReplayServer(
  scriptSchema.parse({
    repeatLast: true,
    turns: [
      {
        say: "Running the tests now.",
        tools: [{ bash: { command: "npm test" } }],
        usage: { prompt_tokens: 900, completion_tokens: 20 },
      },
    ],
  }),
);
const messages = [
  { role: "system", content: "You are a careful coding agent. Use the tools to inspect and fix the repository." },
  { role: "user", content: "The test in test/add.test.js fails. Fix src/add.js." },
];
const bare = new OpenAI({ apiKey: "x", baseURL: server.url, maxRetries: 0 });
const lanes = new OpenAIEndpoint({
  id: "b",
  tier: "standard",
  tierKind: "hosted",
  baseURL: server.url,
  model: "gpt-4.1-mini",
  price: { kind: "priced", price: { inputPerMTok: 0.4, outputPerMTok: 1.6 }, source: "bench" },
  timeoutMs: 10_000,
  fallbacks: [],
  rpm: 100000,
  tpm: 100000000,
});
const bareCall = async () => {
  const s = await bare.chat.completions.create({
    model: "gpt-4.1-mini",
    messages,
    max_completion_tokens: 256,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  for await (const c of s) text += c.choices[0]?.delta?.content ?? "";
  return text;
};
const lanesCall = () => lanes.complete({ messages, maxTokens: 256 });
for (let i = 0; i < 20; i++) {
  await bareCall();
  await lanesCall();
} // warm-up
const t = { bare: [], lanes: [] };
for (let i = 0; i < N; i++) {
  let s = performance.now();
  await bareCall();
  t.bare.push(performance.now() - s);
  s = performance.now();
  await lanesCall();
  t.lanes.push(performance.now() - s);
}
await server.close();
const mb = median(t.bare),
  ml = median(t.lanes);
console.log(`endpoint layer, median of ${N} streaming calls against the replay server`);
console.log(`  bare openai client     ${mb.toFixed(2)} ms`);
console.log(`  lanes endpoint         ${ml.toFixed(2)} ms   ${(ml / mb).toFixed(2)}x   target <= 1.1x`);

// Token counting: 200 KB of varied code-like text.
const lines = [];
for (let i = 0; lines.join("\n").length < 200_000; i++)
  lines.push(
    `export function f${i}(x${i % 7}, y) { return x${i % 7} * ${i} + y.map((v) => v + "${(i * 7919) % 1000}"); } // ${i}`,
  );
const big = lines.join("\n").slice(0, 200_000);
let s = performance.now();
const cold = await countChatTokens("gpt-4o", [{ role: "user", content: big }]);
const coldMs = performance.now() - s;
const warm = [];
for (let i = 0; i < 5; i++) {
  s = performance.now();
  await countChatTokens("gpt-4o", [{ role: "user", content: big.slice(i) }]);
  warm.push(performance.now() - s);
}
const wm = median(warm);
console.log(
  `token counting, 200 KB prompt (${cold.tokens} tokens): first ${coldMs.toFixed(0)} ms, then median ${wm.toFixed(0)} ms = ${(0.2 / (wm / 1000)).toFixed(1)} MB/s`,
);
console.log(
  JSON.stringify({
    bench: "endpoints",
    n: N,
    bareMs: +mb.toFixed(2),
    lanesMs: +ml.toFixed(2),
    ratio: +(ml / mb).toFixed(2),
    tokens200k: { tokens: cold.tokens, firstMs: Math.round(coldMs), warmMs: Math.round(wm) },
  }),
);
