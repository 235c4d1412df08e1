/**
 * `lanes endpoints calibrate`: measure a local llama.cpp endpoint instead of assuming — prompt
 * processing at a few context sizes with the prompt cache off (what a new context costs) and again
 * with it on (what a re-sent one costs), and generation speed — in well under a minute, and store
 * the result as the endpoint's measured speeds, which every later plan uses ("measured").
 */
import { LanesError } from "../core/errors.js";
import { percentiles } from "../core/estimate.js";
import type { ModelEndpoint, Store } from "../core/ports.js";

export interface Calibration {
  endpoint: string;
  contextWindow: number | undefined;
  sizes: { promptTokens: number; coldTps: number; cachedMs: number; cachedProcessed: number; completionTps: number }[];
  promptTps: number;
  completionTps: number;
  /** Share of a re-sent prompt the server served from its cache. */
  cachedShare: number;
  seconds: number;
}

interface Timings {
  prompt_n?: number;
  prompt_ms?: number;
  prompt_per_second?: number;
  predicted_per_second?: number;
}

async function complete(baseURL: string, model: string, text: string, cache: boolean): Promise<Timings> {
  const res = await fetch(`${baseURL.replace(/\/$/, "")}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model,
      messages: [{ role: "user", content: text }],
      max_tokens: 32,
      temperature: 0,
      cache_prompt: cache,
    }),
    signal: AbortSignal.timeout(60_000),
  });
  if (!res.ok)
    throw new LanesError("endpoint", `calibration call answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  const t = ((await res.json()) as { timings?: Timings }).timings;
  if (!t?.prompt_per_second)
    throw new LanesError("endpoint", "the server reports no timings: is it llama.cpp's llama-server?");
  return t;
}

export async function calibrate(o: {
  endpoint: string;
  baseURL: string;
  model: string;
  tier: string;
  ledger: Store;
  onLine?: (l: string) => void;
}): Promise<Calibration> {
  const started = performance.now();
  const { props } = await import("../adapters/models/llama.js");
  const window = (await props(o.baseURL, AbortSignal.timeout(5000)).catch(() => undefined))?.contextSize;
  // Sizes that fit the window per slot with room for the chat template and the answer.
  const sizes = [256, 1024, 4096].filter((n) => !window || n + 64 < window * 0.9);
  if (!sizes.length)
    throw new LanesError("usage", `endpoint ${o.endpoint}'s window (${window}) is too small to measure`);
  const out: Calibration["sizes"] = [];
  for (const n of sizes) {
    // About a token a word; a distinct start per size, so nothing comes from an earlier cache.
    const text = `${n} ${Date.now()}: ${"the ".repeat(n)}`;
    const cold = await complete(o.baseURL, o.model, text, false);
    await complete(o.baseURL, o.model, text, true);
    const warm = await complete(o.baseURL, o.model, text, true);
    out.push({
      promptTokens: cold.prompt_n ?? n,
      coldTps: cold.prompt_per_second ?? 0,
      cachedMs: warm.prompt_ms ?? 0,
      // What the server itself says it processed of the re-sent prompt (the rest came from cache).
      cachedProcessed: warm.prompt_n ?? cold.prompt_n ?? n,
      completionTps: cold.predicted_per_second ?? 0,
    });
    o.onLine?.(
      `  ${cold.prompt_n ?? n} prompt tokens: ${Math.round(cold.prompt_per_second ?? 0)} tokens/s new, ` +
        `${(warm.prompt_ms ?? 0).toFixed(1)} ms when cached; ${Math.round(cold.predicted_per_second ?? 0)} tokens/s generated`,
    );
  }
  const promptTps = percentiles(out.map((s) => s.coldTps)).p50;
  const completionTps = percentiles(out.map((s) => s.completionTps)).p50;
  // The cached re-send processed at most its last few tokens: its share is the rest. Counted in
  // tokens as the server reports them, so a busy machine's slower milliseconds do not skew it.
  const biggest = out[out.length - 1]!;
  const cachedShare = Math.max(0, Math.min(1, 1 - biggest.cachedProcessed / biggest.promptTokens));
  // Stored as a history row of its own lane: plans take an endpoint's speeds from every row of it.
  o.ledger.historyStore.add({
    lane: "(calibrate)",
    template: "(calibrate)",
    tier: o.tier,
    steps: 0,
    completionPerStep: 0,
    observationPerStep: 0,
    secondsPerStep: 0,
    costUsd: null,
    endpoint: o.endpoint,
    promptTps,
    completionTps,
    cachedShare,
  });
  return {
    endpoint: o.endpoint,
    contextWindow: window,
    sizes: out,
    promptTps,
    completionTps,
    cachedShare,
    seconds: +((performance.now() - started) / 1000).toFixed(1),
  };
}

export interface HostedCalibration {
  endpoint: string;
  hosted: true;
  /** Wall time of a one-token call: network and queueing, what every call pays first. */
  latencyMs: number;
  /** Completion tokens per second of wall time for a short answer, latency included. */
  completionTps: number;
  costUsd: number;
  label: string;
}

/**
 * A hosted endpoint cannot say what its GPUs do: lanes times two small calls (one token, then a
 * short answer) over the network and says so. Both are billed by the provider; the cost is shown.
 */
export async function calibrateHosted(o: { endpoint: ModelEndpoint; ledger: Store }): Promise<HostedCalibration> {
  const ask = (maxTokens: number) =>
    o.endpoint.complete(
      { messages: [{ role: "user", content: "Count from 1 to 100, separated by spaces." }], maxTokens, temperature: 0 },
      { stream: false, retryForMs: 10_000 },
    );
  const first = await ask(1);
  const short = await ask(64);
  const completionTps = short.usage.completionTokens / Math.max(0.001, short.latencyMs / 1000);
  o.ledger.historyStore.add({
    lane: "(calibrate)",
    template: "(calibrate)",
    tier: o.endpoint.spec.tier,
    steps: 0,
    completionPerStep: 0,
    observationPerStep: 0,
    secondsPerStep: 0,
    costUsd: null,
    endpoint: o.endpoint.id,
    completionTps,
  });
  const cost = [first.costUsd, short.costUsd].reduce((s, c) => s + (Number.isFinite(c) ? c : 0), 0);
  return {
    endpoint: o.endpoint.id,
    hosted: true,
    latencyMs: first.latencyMs,
    completionTps,
    costUsd: cost,
    label: "hosted: wall-clock of small calls over the network (latency included), not the provider's GPU speed",
  };
}
