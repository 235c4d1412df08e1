/**
 * Pricing, in one place: prices, what a call costs (and at most can cost), what a budget still
 * pays for, and cost classes — C0 is exactly $0; C1..C3 are below their configured bounds; C4 is
 * the rest.
 */
import type { Timings, Usage } from "./models.js";

export type CostClass = "C0" | "C1" | "C2" | "C3" | "C4";

export const COST_CLASS_LABEL: Record<CostClass, string> = { C0: "free", C1: "$", C2: "$$", C3: "$$$", C4: "$$$$" };

export interface CostClassBounds {
  C1: number;
  C2: number;
  C3: number;
}

export function costClassOf(usd: number, bounds: CostClassBounds): CostClass {
  if (usd <= 0) return "C0";
  if (usd < bounds.C1) return "C1";
  if (usd < bounds.C2) return "C2";
  if (usd < bounds.C3) return "C3";
  return "C4";
}

export function classRank(c: CostClass): number {
  return Number(c.slice(1));
}

/** Per million tokens; `gpuHourUsd` for local tiers (cost = GPU time x rate). */
export interface Price {
  inputPerMTok: number;
  cachedInputPerMTok?: number;
  outputPerMTok: number;
  gpuHourUsd?: number;
}

export type PriceResolution = { kind: "priced"; price: Price; source: string } | { kind: "unpriced"; reason: string };

/** GPU-seconds a local call is charged: the server's own timings, times the call's share of it. */
export function gpuSecondsOf(t: Timings): number {
  return ((t.promptMs + t.predictedMs) / 1000) * (t.share ?? 1);
}

/** Cost of a call from its usage. GPU-hour pricing uses the measured (or projected) GPU seconds. */
export function callCostUsd(usage: Usage, price: Price, gpuSeconds = 0): number {
  const cached = Math.min(usage.cachedTokens, usage.promptTokens);
  const input =
    (usage.promptTokens - cached) * price.inputPerMTok + cached * (price.cachedInputPerMTok ?? price.inputPerMTok);
  const tokens = (input + usage.completionTokens * price.outputPerMTok) / 1e6;
  return tokens + (price.gpuHourUsd ?? 0) * (gpuSeconds / 3600);
}

/** The most a call can cost: every prompt token uncached, and every allowed completion token. */
export function worstCaseUsd(promptTokens: number, maxTokens: number, price: Price, gpuSecondsPerToken = 0): number {
  return callCostUsd(
    { promptTokens, completionTokens: maxTokens, cachedTokens: 0, estimated: true },
    price,
    gpuSecondsPerToken * (promptTokens + maxTokens),
  );
}

/** How many completion tokens `budgetUsd` still pays for after the prompt. */
export function affordableTokens(budgetUsd: number, promptTokens: number, price: Price): number {
  const promptCost = (promptTokens * price.inputPerMTok) / 1e6;
  if (price.outputPerMTok <= 0) return budgetUsd >= promptCost ? Number.MAX_SAFE_INTEGER : 0;
  return Math.max(0, Math.floor(((budgetUsd - promptCost) * 1e6) / price.outputPerMTok));
}
