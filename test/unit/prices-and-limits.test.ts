import { describe, expect, it } from "vitest";
import { costClassOf } from "../../src/core/cost.js";
import { affordableTokens, worstCaseUsd } from "../../src/core/cost.js";
import { configSchema } from "../../src/adapters/config/schema.js";
import { BUILTIN_CONFIG } from "../../src/adapters/config/defaults.js";
import { deepMerge } from "../../src/adapters/config/load.js";
import { formatPrice, priceTable, resolvePrice } from "../../src/adapters/models/prices.js";
import { RateLimiter } from "../../src/adapters/models/rate-limit.js";
import { backoff, retryAfter } from "../../src/adapters/models/openai-endpoint.js";

const config = (extra: Record<string, unknown>) =>
  configSchema.parse(deepMerge(structuredClone(BUILTIN_CONFIG) as Record<string, unknown>, extra));
const ep = (o: Record<string, unknown>) =>
  ({ id: "e", baseURL: "http://x/v1", model: "m", timeout: "1s", fallbacks: [], ...o }) as never;

describe("prices fail closed", () => {
  it("prices a known hosted model from the pinned table, with its version", () => {
    const r = resolvePrice(config({}), "standard", ep({ model: "gpt-4.1-mini" }));
    expect(r).toEqual({
      kind: "priced",
      price: { inputPerMTok: 0.4, cachedInputPerMTok: 0.1, outputPerMTok: 1.6 },
      source: `price table ${priceTable().version}`,
    });
  });
  it("marks an unknown hosted model unpriced, never $0", () => {
    const r = resolvePrice(config({}), "premium", ep({ model: "mystery-9" }));
    expect(r.kind).toBe("unpriced");
    expect(formatPrice(r)).toBe("unpriced");
  });
  it("requires a local tier to name its price, and accepts 0", () => {
    expect(resolvePrice(config({}), "local", ep({ model: "gpt-4o" })).kind).toBe("unpriced");
    expect(resolvePrice(config({}), "local", ep({ price: { gpuHourUsd: 0 } }))).toMatchObject({
      kind: "priced",
      price: { inputPerMTok: 0, outputPerMTok: 0, gpuHourUsd: 0 },
    });
  });
  it("lets lanes.yaml override the table, and an endpoint's own price override both", () => {
    const c = config({ prices: { "gpt-4o": { inputPerMTok: 1, outputPerMTok: 2 } } });
    expect(resolvePrice(c, "standard", ep({ model: "gpt-4o" }))).toMatchObject({
      price: { inputPerMTok: 1, outputPerMTok: 2 },
      source: "lanes.yaml (prices.gpt-4o)",
    });
    expect(
      resolvePrice(c, "standard", ep({ model: "gpt-4o", price: { inputPerMTok: 3, outputPerMTok: 4 } })),
    ).toMatchObject({ price: { inputPerMTok: 3, outputPerMTok: 4 } });
  });
  it("turns a GPU-hour rate into cost through GPU time", () => {
    expect(worstCaseUsd(1000, 1000, { inputPerMTok: 0, outputPerMTok: 0, gpuHourUsd: 3.6 }, 0.001)).toBeCloseTo(
      3.6 * (2 / 3600),
      12,
    );
  });
});

describe("cost classes and clamping", () => {
  it.each([
    [0, "C0"],
    [0.05, "C1"],
    [0.1, "C2"],
    [0.99, "C2"],
    [5, "C3"],
    [10, "C4"],
  ])("$%s is %s", (usd, cls) => expect(costClassOf(usd, { C1: 0.1, C2: 1, C3: 10 })).toBe(cls));
  it("clamps completion tokens to what the budget pays after the prompt", () => {
    expect(affordableTokens(0.01, 1000, { inputPerMTok: 1, outputPerMTok: 10 })).toBe(900);
    expect(affordableTokens(0.0005, 1000, { inputPerMTok: 1, outputPerMTok: 10 })).toBe(0);
  });
});

describe("retry timing", () => {
  it("reads Retry-After as ms, seconds or a date", () => {
    expect(retryAfter(new Headers({ "retry-after-ms": "250" }))).toBe(250);
    expect(retryAfter(new Headers({ "retry-after": "2" }))).toBe(2000);
    expect(retryAfter(new Headers({ "retry-after": new Date(10_000).toUTCString() }), 4_000)).toBe(6_000);
    expect(retryAfter(new Headers())).toBeUndefined();
  });
  it("backs off exponentially with jitter, capped", () => {
    expect([1, 2, 3, 10].map((n) => backoff(n, () => 1))).toEqual([500, 1000, 2000, 8000]);
    expect(backoff(1, () => 0)).toBe(250);
  });
});

describe("rate limiter", () => {
  it("lets a minute's requests through, then makes the next wait and says why", () => {
    let now = 0;
    const rl = new RateLimiter(2, undefined, () => now);
    const delays: number[] = [];
    void rl.take(1, (ms) => delays.push(ms));
    void rl.take(1, (ms) => delays.push(ms));
    expect(rl.waitFor(1)).toEqual({ ms: 30_000, reason: "rate limit: 2 requests/min" });
    now = 30_000;
    expect(rl.waitFor(1).ms).toBe(0);
    expect(delays).toEqual([]);
  });
  it("limits tokens per minute", () => {
    let now = 0;
    const rl = new RateLimiter(undefined, 1000, () => now);
    void rl.take(900, () => {});
    expect(rl.waitFor(500)).toEqual({ ms: 24_000, reason: "rate limit: 1000 tokens/min" });
    now = 24_000;
    expect(rl.waitFor(500).ms).toBe(0);
  });
});
