import { describe, expect, it } from "vitest";
import { exitCodeForDecision as exitCodeFor } from "../../src/core/exit-codes.js";
import { decide, scheduleState, type DecisionInput, type QuotaImpact } from "../../src/core/policy.js";
import { estimate, percentiles, DEFAULT_PROFILE } from "../../src/core/estimate.js";
import { bucketKey, levelOf, periodOf } from "../../src/core/quota.js";

const bucket = (o: Partial<QuotaImpact> = {}): QuotaImpact => ({
  key: "team:platform:month:2026-11",
  unit: "usd",
  used: 0,
  held: 0,
  limit: 100,
  kind: "hard",
  resetsAt: "2026-12-01T00:00:00.000Z",
  projected: 0.05,
  cap: 0.5,
  ...o,
});
const base = (o: Partial<DecisionInput> = {}): DecisionInput => ({
  lane: {
    name: "async",
    tiers: ["local", "standard"],
    approval: { mode: "auto", autoApproveUpTo: "C1" },
    allowHosted: true,
    concurrency: 4,
  },
  tier: { name: "standard", kind: "hosted" },
  cost: { class: "C1", p90Usd: 0.05, capUsd: 0.5 },
  quota: [bucket()],
  rules: { warnAt: 0.8, askAt: 0.95 },
  running: 0,
  ...o,
});
const rules = (d: ReturnType<typeof decide>) => d.reasons.map((r) => `${r.rule}/${r.level}`);

describe("decide: every rule, its level, and the verdict", () => {
  it.each<[string, Partial<DecisionInput>, string, string[], number]>([
    ["auto-approves within the lane's class", {}, "allow", ["approval.auto/advisory"], 0],
    [
      "asks above the auto-approval class",
      { cost: { class: "C3", p90Usd: 5, capUsd: 10 } },
      "ask",
      ["approval.above_auto/soft"],
      3,
    ],
    [
      "asks in an ask lane",
      { lane: { ...base().lane, approval: { mode: "ask", autoApproveUpTo: "C4" } } },
      "ask",
      ["approval.ask/soft"],
      3,
    ],
    [
      "asks in an always lane",
      { lane: { ...base().lane, approval: { mode: "always", autoApproveUpTo: "C4" } } },
      "ask",
      ["approval.always/soft"],
      3,
    ],
    [
      "denies an unpriced tier by default",
      { cost: { class: "unpriced", p90Usd: null, capUsd: 1 } },
      "deny",
      ["price.unpriced/hard"],
      3,
    ],
    [
      "asks for an unpriced tier where the lane allows it",
      { cost: { class: "unpriced", p90Usd: null, capUsd: 1 }, lane: { ...base().lane, allowUnpriced: true } },
      "ask",
      ["price.unpriced/soft"],
      3,
    ],
    [
      "asks for a relaxed sandbox, or denies where policy says so",
      {
        sandbox: {
          profile: "default",
          rule: "ask",
          relaxations: [{ field: "capAdd", value: "SYS_ADMIN", baseline: "none" }],
        },
      },
      "ask",
      ["sandbox.relaxed/soft", "approval.auto/advisory"],
      3,
    ],
    [
      "denies a relaxed sandbox under rules.relaxedSandbox: deny",
      { sandbox: { profile: "p", rule: "deny", relaxations: [{ field: "network", value: "open", baseline: "none" }] } },
      "deny",
      ["sandbox.relaxed/hard", "approval.auto/advisory"],
      3,
    ],
    [
      "denies a hosted tier in a local-only lane",
      { lane: { ...base().lane, allowHosted: false } },
      "deny",
      ["tier.hosted_forbidden/hard", "approval.auto/advisory"],
      3,
    ],
    [
      "denies a tier the lane does not list",
      { tier: { name: "premium", kind: "hosted" } },
      "deny",
      ["tier.not_in_lane/hard", "approval.auto/advisory"],
      3,
    ],
    [
      "warns at 80% of a bucket and still allows",
      { quota: [bucket({ used: 85 })] },
      "allow",
      ["approval.auto/advisory", "quota.warn/advisory"],
      0,
    ],
    [
      "asks at 95% of a bucket",
      { quota: [bucket({ used: 90, held: 6 })] },
      "ask",
      ["approval.auto/advisory", "quota.above_ask/soft"],
      3,
    ],
    [
      "asks when the p90 would cross a soft limit",
      { quota: [bucket({ kind: "soft", used: 10, limit: 10.04, projected: 0.05 })] },
      "ask",
      ["approval.auto/advisory", "quota.soft/soft", "quota.above_ask/soft"],
      3,
    ],
    [
      "denies when the cap would cross a hard limit",
      { quota: [bucket({ used: 99.7, limit: 100 })] },
      "deny",
      ["approval.auto/advisory", "quota.hard/hard", "quota.above_ask/soft"],
      4,
    ],
    ["delays while the lane is full", { running: 4 }, "delay", ["approval.auto/advisory", "lane.concurrency/soft"], 4],
    [
      "delays while the schedule window is closed",
      { schedule: { open: false, opensAt: "2026-11-22T22:00:00.000Z", window: "22:00-06:00 UTC" } },
      "delay",
      ["approval.auto/advisory", "lane.schedule/soft"],
      4,
    ],
    [
      "delays while every local slot is busy",
      { endpointBusy: "all 1 llama.cpp slot(s) are busy" },
      "delay",
      ["approval.auto/advisory", "endpoint.busy/soft"],
      4,
    ],
    [
      "prefers deny over delay over ask",
      { running: 9, cost: { class: "C4", p90Usd: 20, capUsd: 50 }, lane: { ...base().lane, allowHosted: false } },
      "deny",
      ["tier.hosted_forbidden/hard", "approval.above_auto/soft", "lane.concurrency/soft"],
      3,
    ],
  ])("%s", (_, o, verdict, expected, code) => {
    const d = decide(base(o));
    expect(d.verdict).toBe(verdict);
    expect(rules(d)).toEqual(expected);
    expect(exitCodeFor(d)).toBe(code);
  });
  it("explains each reason with numbers a user can act on", () => {
    const d = decide(base({ quota: [bucket({ used: 99.7 })] }));
    expect(d.reasons.find((r) => r.rule === "quota.hard")!.message).toBe(
      "this run's cap $0.50 would cross the hard limit (team:platform:month:2026-11: used $99.70 + held $0.00 of $100.00, resets 2026-12-01T00:00:00.000Z)",
    );
  });
  it("carries the time a schedule delay clears", () => {
    const d = decide(base({ schedule: scheduleState("22:00-06:00", new Date("2026-11-22T12:00:00Z")) }));
    expect(d.retryAt).toBe("2026-11-22T22:00:00.000Z");
    expect(scheduleState("22:00-06:00", new Date("2026-11-22T23:30:00Z")).open).toBe(true);
    expect(scheduleState("22:00-06:00", new Date("2026-11-22T05:59:00Z")).open).toBe(true);
    expect(scheduleState("09:00-17:00", new Date("2026-11-22T17:00:00Z"))).toMatchObject({
      open: false,
      opensAt: "2026-11-23T09:00:00.000Z",
    });
  });
});

describe("context fit", () => {
  const ctx = (p50: number, p90: number) => ({ endpoint: "llama", window: 8192, p50, p90, nextTier: "standard" });
  const rule = (d: ReturnType<typeof decide>) => d.reasons.filter((r) => r.rule === "endpoint.context");
  it("denies a run whose p50 context does not fit the endpoint's window, naming the next tier", () => {
    const d = decide(base({ context: ctx(9000, 30_000) }));
    expect(d.verdict).toBe("deny");
    expect(rule(d)[0]!.message).toBe(
      "the run's projected context (p50 9000, p90 30000 tokens) does not fit endpoint llama's window of 8192 tokens" +
        " per slot; try the lane's next tier: --tier standard",
    );
  });
  it("warns when only the p90 outgrows it, or comes near it; says nothing when it fits", () => {
    expect(rule(decide(base({ context: ctx(4000, 9000) })))[0]).toMatchObject({ level: "advisory" });
    expect(rule(decide(base({ context: ctx(4000, 7000) })))[0]!.message).toContain("is near");
    expect(rule(decide(base({ context: ctx(2000, 4000) })))).toEqual([]);
  });
});

describe("quota buckets", () => {
  it("keys periods so a new period is a new bucket", () => {
    const now = new Date("2026-11-22T10:00:00Z"); // a Sunday
    expect(periodOf("month", now)).toEqual({ id: "2026-11", resetsAt: new Date("2026-12-01T00:00:00Z") });
    expect(periodOf("day", now)).toEqual({ id: "2026-11-22", resetsAt: new Date("2026-11-23T00:00:00Z") });
    expect(periodOf("week", now)).toEqual({ id: "2026-W47", resetsAt: new Date("2026-11-23T00:00:00Z") });
    expect(periodOf("week", new Date("2027-01-01T00:00:00Z")).id).toBe("2026-W53");
    expect(bucketKey("team", "platform", "month", "2026-11", "usd")).toBe("team:platform:month:2026-11");
    expect(bucketKey("user", "ana", "day", "2026-11-22", "gpu_seconds")).toBe("user:ana:day:2026-11-22:gpu_seconds");
  });
  it("colours levels at 80% and 95%", () => {
    expect([50, 85, 97, 101].map((u) => levelOf(u, 0, 100, { warnAt: 0.8, askAt: 0.95 }))).toEqual([
      "ok",
      "warn",
      "ask",
      "over",
    ]);
  });
});

describe("estimate", () => {
  const price = { inputPerMTok: 1, outputPerMTok: 4 };
  const input = {
    promptTokens: 2000,
    promptExact: true,
    price,
    capUsd: 1,
    maxSteps: 30,
    history: undefined,
    defaults: DEFAULT_PROFILE,
    bounds: { C1: 0.1, C2: 1, C3: 10 },
    local: false,
  };
  it("projects the growing context exactly", () => {
    const e = estimate(input);
    // p50: 8 steps, 250 + 400 growth: input = 8*2000 + 650*28 = 34200; output = 2000
    expect(e.p50).toMatchObject({ steps: 8, inputTokens: 34_200, outputTokens: 2000 });
    expect(e.p50Usd).toBeCloseTo((34_200 + 2000 * 4) / 1e6, 12);
    // p90: 20 steps, 600 + 1500 growth: input = 20*2000 + 2100*190 = 439000; output = 12000
    expect(e.p90).toMatchObject({ steps: 20, inputTokens: 439_000, outputTokens: 12_000 });
    expect(e.class).toBe("C2"); // p90 $0.487
    expect(e.assumptions[1]).toContain("no history yet");
  });
  it("prices the repeated context at the cached rate when the tier has one", () => {
    const e = estimate({ ...input, price: { ...price, cachedInputPerMTok: 0.1 } });
    expect(e.p50.cachedInputTokens).toBe(7 * 2000 + (650 * 7 * 6) / 2);
    expect(e.p50Usd!).toBeLessThan(estimate(input).p50Usd!);
  });
  it("widens the range with the variance of history", () => {
    const narrow = estimate({
      ...input,
      history: {
        runs: 10,
        p50: { steps: 5, completionPerStep: 200, observationPerStep: 300, secondsPerStep: 5 },
        p90: { steps: 6, completionPerStep: 220, observationPerStep: 320, secondsPerStep: 5 },
      },
    });
    const wide = estimate({
      ...input,
      history: {
        runs: 10,
        p50: { steps: 5, completionPerStep: 200, observationPerStep: 300, secondsPerStep: 5 },
        p90: { steps: 25, completionPerStep: 900, observationPerStep: 3000, secondsPerStep: 20 },
      },
    });
    expect(narrow.p50Usd).toBeCloseTo(wide.p50Usd!, 12);
    expect(wide.p90Usd! / wide.p50Usd!).toBeGreaterThan(5 * (narrow.p90Usd! / narrow.p50Usd!));
    expect(wide.assumptions[1]).toContain("from 10 earlier runs");
  });
  it("is unpriced, never $0, without a price", () => {
    const e = estimate({ ...input, price: undefined });
    expect([e.p50Usd, e.p90Usd, e.class]).toEqual([null, null, "unpriced"]);
  });
  it("costs a local tier through projected GPU time, the re-sent context served from the prompt cache", () => {
    const e = estimate({ ...input, price: { inputPerMTok: 0, outputPerMTok: 0, gpuHourUsd: 3.6 }, local: true });
    // Each call processes only what is new: the first prompt, then one step's growth per call.
    expect(e.p50.gpuSeconds).toBeCloseTo((2000 + 7 * 650) / 1000 + 2000 / 40, 1);
    expect(e.p50Usd).toBeCloseTo((3.6 * e.p50.gpuSeconds) / 3600, 6);
    expect(e.assumptions.join()).toContain("the re-sent context served from the server's prompt cache");
    // A measured cache share replaces that assumption.
    const history = { runs: 0, p50: DEFAULT_PROFILE.p50, p90: DEFAULT_PROFILE.p90, cachedShare: 0.5 };
    const m = estimate({
      ...input,
      price: { inputPerMTok: 0, outputPerMTok: 0, gpuHourUsd: 3.6 },
      local: true,
      history,
    });
    expect(m.p50.gpuSeconds).toBeCloseTo((34_200 * 0.5) / 1000 + 2000 / 40, 1);
    expect(m.assumptions.join()).toContain("50% of prompt tokens from the server's prompt cache (measured)");
  });
  it("corrects GPU time by how far earlier runs' projections were from their actual cost (p50, p90)", () => {
    const price = { inputPerMTok: 0, outputPerMTok: 0, gpuHourUsd: 3600 }; // $1 per GPU-second
    const profile = { steps: 4, completionPerStep: 100, observationPerStep: 200, secondsPerStep: 1 };
    const base = { runs: 10, p50: profile, p90: profile, promptTokensPerSecond: 1000, completionTokensPerSecond: 50 };
    const plain = estimate({ ...input, price, local: true, history: base });
    const own = plain.p50Usd!; // each earlier run had this profile: its projection is this much
    const samples = [1.5, 2, 2, 2, 3].map((r) => ({ profile, costUsd: own * r }));
    const e = estimate({ ...input, price, local: true, history: { ...base, samples } });
    expect(e.p50Usd! / own).toBeCloseTo(2, 6); // the median ratio
    expect(e.p90Usd! / own).toBeCloseTo(3, 6); // the 90th percentile
    expect(e.assumptions.join()).toContain(
      "times 2.00 (p50) and 3.00 (p90), how far projections were from the GPU time of 5",
    );
    // Fewer than 3 runs with a cost: no correction.
    const few = estimate({ ...input, price, local: true, history: { ...base, samples: samples.slice(0, 2) } });
    expect(few.p50Usd).toBeCloseTo(own, 9);
  });
  it("projects the context of the run's last call", () => {
    const e = estimate(input);
    expect(e.p50.contextTokens).toBe(2000 + 7 * 650 + 250);
    expect(e.p90.contextTokens).toBe(2000 + 19 * 2100 + 600);
  });
  it("uses an endpoint's configured speeds until history has measured ones", () => {
    const price = { inputPerMTok: 0, outputPerMTok: 0, gpuHourUsd: 3.6 };
    const speeds = { promptTokensPerSecond: 40_000, completionTokensPerSecond: 600 };
    const e = estimate({ ...input, price, local: true, speeds });
    expect(e.p50.gpuSeconds).toBeCloseTo(6550 / 40_000 + 2000 / 600, 1);
    expect(e.assumptions.join()).toContain("40000 prompt and 600 completion tokens/s (configured)");
    const measured = {
      runs: 1,
      p50: DEFAULT_PROFILE.p50,
      p90: DEFAULT_PROFILE.p90,
      completionTokensPerSecond: 300,
      promptTokensPerSecond: 20_000,
    };
    const m = estimate({ ...input, price, local: true, speeds, history: measured });
    expect(m.assumptions.join()).toContain("20000 prompt and 300 completion tokens/s (measured)");
  });
  it("computes nearest-rank percentiles", () => {
    expect(percentiles([5, 1, 4, 2, 3, 10, 9, 8, 7, 6])).toEqual({ p50: 5, p90: 9 });
  });
});
