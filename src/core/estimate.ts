/**
 * The projected cost of an agent run: many calls whose context grows. From the exact prompt of
 * the first call and per-step figures (from history of the same lane and task template, else lane
 * defaults): steps, completion tokens per step, observation tokens per step — each as p50 and
 * p90. Call i sends the first prompt plus everything said and observed in the steps before it.
 * The result is a range, never a single number, with the assumptions that produced it.
 */
import { costClassOf, type CostClass, type CostClassBounds } from "./cost.js";
import { callCostUsd, type Price } from "./cost.js";

export interface StepProfile {
  steps: number;
  completionPerStep: number;
  observationPerStep: number;
  /** Seconds of sandbox time per step (commands + model time). */
  secondsPerStep: number;
}

export interface History {
  runs: number;
  p50: StepProfile;
  p90: StepProfile;
  /** llama.cpp throughput, to project GPU seconds. */
  promptTokensPerSecond?: number;
  completionTokensPerSecond?: number;
  /** Measured share of prompt tokens the server served from its prompt cache (0..1). */
  cachedShare?: number;
  /** Which history it is: "lane L on tier T, endpoint E, template X". */
  scope?: string;
  /** The day the endpoint's speeds were last measured (YYYY-MM-DD). */
  measuredOn?: string;
  /** Earlier runs' own profiles and what they cost: how far projections were from actual cost. */
  samples?: { profile: StepProfile; costUsd: number }[];
}

export interface EstimateInput {
  promptTokens: number;
  promptExact: boolean;
  price: Price | undefined; // undefined = unpriced
  capUsd: number;
  maxSteps: number;
  history: History | undefined;
  defaults: { p50: StepProfile; p90: StepProfile };
  bounds: CostClassBounds;
  local: boolean;
  /** The endpoint's configured speeds: used when history has not measured any. */
  speeds?: { promptTokensPerSecond: number; completionTokensPerSecond: number } | undefined;
}

export interface Projection {
  steps: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  gpuSeconds: number;
  sandboxSeconds: number;
  usd: number | null;
  /** The context of the run's last call: everything re-sent plus its own completion. */
  contextTokens: number;
}

export interface Estimate {
  p50: Projection;
  p90: Projection;
  p50Usd: number | null;
  p90Usd: number | null;
  capUsd: number;
  class: CostClass | "unpriced";
  assumptions: string[];
}

export const DEFAULT_PROFILE = {
  p50: { steps: 8, completionPerStep: 250, observationPerStep: 400, secondsPerStep: 6 },
  p90: { steps: 20, completionPerStep: 600, observationPerStep: 1500, secondsPerStep: 15 },
};

export function project(
  prompt: number,
  p: StepProfile,
  price: Price | undefined,
  local: boolean,
  tps: { prompt: number; completion: number },
  /** Share of prompt tokens served from the server's prompt cache; undefined = the re-sent prefix. */
  cachedShare?: number,
): Projection {
  const steps = Math.max(1, Math.round(p.steps));
  const growth = p.completionPerStep + p.observationPerStep;
  // Sum over calls i = 0..steps-1 of (prompt + i * growth): the context every call re-sends.
  const inputTokens = steps * prompt + (growth * steps * (steps - 1)) / 2;
  // What the previous call already sent is eligible for the cached-input price: calls 1..steps-1
  // each repeat prompt + (i - 1) * growth.
  const cachedInputTokens =
    price?.cachedInputPerMTok !== undefined ? (steps - 1) * prompt + (growth * (steps - 1) * (steps - 2)) / 2 : 0;
  const outputTokens = steps * p.completionPerStep;
  // llama.cpp keeps a slot's KV cache: a call re-sending the previous context processes only what
  // is new. Measured cache share when history has it, else the re-sent prefix counts as cached.
  const reSent = (steps - 1) * prompt + (growth * (steps - 1) * (steps - 2)) / 2;
  const processed = cachedShare !== undefined ? inputTokens * (1 - cachedShare) : inputTokens - reSent;
  const gpuSeconds = local ? processed / tps.prompt + outputTokens / tps.completion : 0;
  const sandboxSeconds = steps * p.secondsPerStep;
  const usage = {
    promptTokens: inputTokens,
    cachedTokens: cachedInputTokens,
    completionTokens: outputTokens,
    estimated: true,
  };
  const usd = price ? callCostUsd(usage, price, gpuSeconds) : null;
  return {
    steps,
    inputTokens: Math.round(inputTokens),
    cachedInputTokens: Math.round(cachedInputTokens),
    outputTokens: Math.round(outputTokens),
    gpuSeconds: round(gpuSeconds),
    sandboxSeconds: round(sandboxSeconds),
    usd,
    contextTokens: Math.round(prompt + (steps - 1) * growth + p.completionPerStep),
  };
}

export function estimate(i: EstimateInput): Estimate {
  const fromHistory = i.history && i.history.runs >= 3;
  const base = fromHistory ? i.history! : i.defaults;
  const clampSteps = (p: StepProfile) => ({ ...p, steps: Math.min(p.steps, i.maxSteps) });
  // Measured (history) beats configured (the endpoint's `speeds`) beats the defaults.
  const tps = {
    prompt: i.history?.promptTokensPerSecond ?? i.speeds?.promptTokensPerSecond ?? 1000,
    completion: i.history?.completionTokensPerSecond ?? i.speeds?.completionTokensPerSecond ?? 40,
  };
  const speedSource = i.history?.completionTokensPerSecond
    ? `measured${i.history.measuredOn ? ` on ${i.history.measuredOn}` : ""}`
    : i.speeds
      ? "configured"
      : "default";
  const cached = i.history?.cachedShare;
  const factor = fromHistory && i.local ? gpuCorrection(i, tps, cached) : undefined;
  // The p50 takes the median correction, the p90 the 90th percentile: how far off projections
  // have been is part of the uncertainty the p90 covers.
  const scaled = (f: number) => ({ prompt: tps.prompt / f, completion: tps.completion / f });
  const p50 = project(i.promptTokens, clampSteps(base.p50), i.price, i.local, scaled(factor?.p50 ?? 1), cached);
  const p90 = project(i.promptTokens, clampSteps(base.p90), i.price, i.local, scaled(factor?.p90 ?? 1), cached);
  const assumptions = [
    `first prompt ${i.promptTokens} tokens (${i.promptExact ? "exact" : "approximate"})`,
    fromHistory
      ? `steps, completion and observation tokens per step from ${i.history!.runs} earlier runs of ` +
        `${i.history!.scope ?? "this lane and task"} (p50 / p90)`
      : `no history yet (${i.history?.runs ?? 0} earlier runs): lane defaults of ${base.p50.steps} /` +
        ` ${base.p90.steps} steps, ${base.p50.completionPerStep} / ${base.p90.completionPerStep} completion` +
        ` and ${base.p50.observationPerStep} / ${base.p90.observationPerStep} observation tokens per` +
        ` step`,
    `steps capped at the lane's limit of ${i.maxSteps}`,
    "each call re-sends the growing context" +
      (i.price?.cachedInputPerMTok !== undefined ? "; the repeated part at the cached-input price" : ""),
  ];
  if (i.local)
    assumptions.push(
      `GPU time at ${Math.round(tps.prompt)} prompt and ${Math.round(tps.completion)} completion tokens/s (${speedSource}` +
        (factor
          ? `; times ${factor.p50.toFixed(2)} (p50) and ${factor.p90.toFixed(2)} (p90), how far projections were` +
            ` from the GPU time of ${factor.runs} earlier runs`
          : "") +
        ")," +
        (cached !== undefined
          ? ` ${Math.round(cached * 100)}% of prompt tokens from the server's prompt cache (measured)`
          : " the re-sent context served from the server's prompt cache"),
    );
  if (!i.price) assumptions.push("unpriced: no price in lanes.yaml or the price table");
  const cls = p90.usd === null ? "unpriced" : costClassOf(p90.usd, i.bounds);
  if (p90.usd !== null && p90.usd > i.capUsd)
    assumptions.push(
      `the p90 ($${p90.usd.toFixed(4)}) is above the cap ($${i.capUsd}): a long run stops with budget_exhausted`,
    );
  return { p50, p90, p50Usd: p50.usd, p90Usd: p90.usd, capUsd: i.capUsd, class: cls, assumptions };
}

/**
 * How far the projection's GPU time is from what runs used: each earlier run's own profile
 * projected with today's speeds, against its actual cost. The ratios' p50 and p90 correct what the
 * linear model misses (generation slowing as the context grows, per-call overheads). Bounded to
 * 0.1-10× so one odd run cannot make a plan absurd; needs 3 runs with a cost.
 */
function gpuCorrection(
  i: EstimateInput,
  tps: { prompt: number; completion: number },
  cached: number | undefined,
): { p50: number; p90: number; runs: number } | undefined {
  const samples = (i.history?.samples ?? []).filter((s) => s.costUsd > 0);
  if (!i.price || samples.length < 3) return undefined;
  const ratios = samples
    .map((s) => s.costUsd / (project(i.promptTokens, s.profile, i.price, true, tps, cached).usd ?? 0))
    .filter((r) => Number.isFinite(r) && r > 0);
  if (ratios.length < 3) return undefined;
  const q = percentiles(ratios);
  const bound = (x: number) => Math.min(10, Math.max(0.1, x));
  return { p50: bound(q.p50), p90: bound(q.p90), runs: ratios.length };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** p50 and p90 of a sample (nearest rank). */
export function percentiles(xs: number[]): { p50: number; p90: number } {
  if (!xs.length) return { p50: 0, p90: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { p50: at(0.5), p90: at(0.9) };
}
