/**
 * GPU time that adds up, on the real llama.cpp server with 4 slots: requests decoded together
 * each report their own (overlapping) timings; lanes charges each its share of the server, so
 * the GPU-seconds charged across concurrent calls stay within a stated margin of the time the
 * server was busy, where charging each call its own timings would count that time several times.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { OpenAIEndpoint } from "../../src/adapters/models/openai-endpoint.js";
import { gpuSecondsOf } from "../../src/core/cost.js";
import { SHARE_SAMPLE_MS } from "../../src/adapters/models/slot-share.js";
import { startLlama, type Llama } from "../helpers/llama.js";

let server: Llama;
beforeAll(async () => {
  server = await startLlama(["-np", "4", "-c", "8192"]);
}, 900_000);
afterAll(() => server?.stop());

const spec = (url: string) => ({
  id: "llama",
  tier: "local",
  tierKind: "local" as const,
  baseURL: url,
  model: "tiny",
  price: { kind: "priced" as const, price: { inputPerMTok: 0, outputPerMTok: 0, gpuHourUsd: 3600 }, source: "test" },
  timeoutMs: 120_000,
  fallbacks: [],
});

it("concurrent calls are charged their share of the server: the sum stays within the busy time", async () => {
  const ep = new OpenAIEndpoint(spec(server.url));
  const ask = (i: number) =>
    ep.complete(
      { messages: [{ role: "user", content: `${i}: ${"tell me more ".repeat(40)}` }], maxTokens: 1500 },
      { stream: false },
    );
  const started = performance.now();
  const calls = await Promise.all([0, 1, 2, 3].map(ask));
  const busy = (performance.now() - started) / 1000;
  const own = calls.reduce((s, c) => s + (c.timings!.promptMs + c.timings!.predictedMs) / 1000, 0);
  const charged = calls.reduce((s, c) => s + gpuSecondsOf(c.timings!), 0);
  // The calls overlapped: their own timings add up to well over the time the server was busy.
  expect(own).toBeGreaterThan(1.8 * busy);
  for (const c of calls) expect(c.timings!.share).toBeLessThan(0.8);
  // Charged: at most the busy time plus the sampling margin per call, and not far below it.
  expect(charged).toBeLessThanOrEqual(busy * 1.1 + (4 * SHARE_SAMPLE_MS) / 1000);
  expect(charged).toBeGreaterThan(0.5 * busy);
  console.log(`busy ${busy.toFixed(2)} s; own timings ${own.toFixed(2)} s; charged ${charged.toFixed(2)} s`);
  // $3,600 per GPU-hour = $1 per GPU-second: what each call cost is its charged GPU time.
  for (const c of calls) expect(c.costUsd).toBeCloseTo(gpuSecondsOf(c.timings!), 6);
}, 180_000);

it("a call alone on the server is charged its full timings", async () => {
  const ep = new OpenAIEndpoint(spec(server.url));
  const c = await ep.complete({ messages: [{ role: "user", content: "hello" }], maxTokens: 400 }, { stream: false });
  expect(c.timings!.share).toBeGreaterThan(0.95);
  expect(gpuSecondsOf(c.timings!)).toBeGreaterThan(0.95 * ((c.timings!.promptMs + c.timings!.predictedMs) / 1000));
}, 120_000);
