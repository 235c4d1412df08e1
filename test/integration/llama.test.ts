import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as llama from "../../src/adapters/models/llama.js";
import { OpenAIEndpoint } from "../../src/adapters/models/openai-endpoint.js";
import { recorder } from "../helpers/endpoints.js";
import { startLlama, type Llama } from "../helpers/llama.js";

let server: Llama;
beforeAll(async () => {
  server = await startLlama(["-np", "1", "--metrics"]);
}, 900_000);
afterAll(() => server?.stop());

const GPU_HOUR = 3.6;
const local = (url: string) =>
  new OpenAIEndpoint({
    id: "llama",
    tier: "local",
    tierKind: "local",
    baseURL: url,
    model: "tiny",
    price: { kind: "priced", price: { inputPerMTok: 0, outputPerMTok: 0, gpuHourUsd: GPU_HOUR }, source: "test" },
    timeoutMs: 20_000,
    fallbacks: [],
  });
const chat = [
  { role: "system" as const, content: "You are a coding agent." },
  { role: "user" as const, content: "Fix the failing test in src/add.js." },
];

describe("the local tier against a real llama.cpp server", () => {
  it("reads /health's 503 while the model loads as loading (not down), then ok", async () => {
    expect(server.startup.slice(-2)).toEqual(["loading", "ok"]);
    expect(await llama.health(server.url)).toEqual({ state: "ok" });
  });

  it("reads context size and slots from /props and /slots", async () => {
    expect(await llama.props(server.url)).toMatchObject({ contextSize: 2048, totalSlots: 1 });
    expect(await llama.slots(server.url)).toEqual({ total: 1, busy: 0 });
    expect(await llama.slotsDelay(server.url)).toBeUndefined();
  });

  it("counts prompt tokens exactly: /tokenize equals the usage the server then reports", async () => {
    const ep = local(server.url);
    const counted = await ep.countTokens({ messages: chat });
    expect(counted).toMatchObject({ exact: true, method: "llama.cpp /apply-template + /tokenize" });
    const c = await ep.complete({ messages: chat, maxTokens: 8 });
    expect(c.usage.promptTokens).toBe(counted.tokens);
  });

  it("returns usage and timings, and prices GPU time from the timings", async () => {
    const r = recorder();
    const c = await local(server.url).complete({ messages: chat, maxTokens: 16 }, r.hooks);
    expect(c.usage.completionTokens).toBeGreaterThan(0);
    expect(c.usage.estimated).toBe(false);
    expect(c.timings!.predictedPerSecond).toBeGreaterThan(0);
    const gpuSeconds = (c.timings!.promptMs + c.timings!.predictedMs) / 1000;
    expect(c.costUsd).toBeCloseTo((GPU_HOUR * gpuSeconds) / 3600, 12);
    expect(r.billed).toEqual([c.costUsd]);
  });

  it("exposes /metrics when started with --metrics", async () => {
    const m = await llama.metrics(server.url);
    expect(m).toBeDefined();
    expect(Object.keys(m!).some((k) => k.startsWith("llamacpp:"))).toBe(true);
  });

  it("reports a delay reason while its only slot is busy", async () => {
    const ep = local(server.url);
    const long = ep.complete({ messages: chat, maxTokens: 1800 });
    let reason: string | undefined;
    for (let i = 0; i < 200 && !reason; i++) {
      reason = await llama.slotsDelay(server.url);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(reason).toMatch(/^all 1 llama\.cpp slot\(s\) at http:\/\/127\.0\.0\.1:\d+ are busy$/);
    await long;
    expect(await llama.slotsDelay(server.url)).toBeUndefined();
  }, 90_000); // 1,800 tokens on two shared CPU cores
});

describe("a llama.cpp server killed mid-stream", () => {
  it("charges what arrived plus the worst case, announces it, and fails with exit-6 kind", async () => {
    const doomed = await startLlama(["-np", "1"]);
    const r = recorder();
    const call = local(doomed.url).complete({ messages: chat, maxTokens: 1900 }, { ...r.hooks, retryForMs: 2000 });
    setTimeout(() => doomed.stop(), 150);
    await expect(call).rejects.toMatchObject({ kind: "endpoint" });
    const broken = r.events.find((e) => e.type === "stream_broken");
    expect(broken).toMatchObject({ endpointId: "llama", chargedCompletionTokens: 1900 });
    expect(r.billed.length).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
