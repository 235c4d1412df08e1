/**
 * Model calls as the core sees them: OpenAI-style chat messages with tool calls, usage and
 * (for llama.cpp) timings, prices, and the events an endpoint reports while it works.
 */
export type Role = "system" | "user" | "assistant" | "tool";

export interface ToolCall {
  id: string;
  name: string;
  /** The raw JSON text the model produced. */
  arguments: string;
}

export interface Message {
  role: Role;
  content: string | null;
  toolCalls?: ToolCall[];
  toolCallId?: string;
}

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** True when the numbers are lanes' own count (a broken stream), not the server's. */
  estimated: boolean;
}

/** llama.cpp's per-response timings, used to project GPU time. */
export interface Timings {
  promptMs: number;
  predictedMs: number;
  promptPerSecond: number;
  predictedPerSecond: number;
}

export interface Completion {
  endpointId: string;
  model: string;
  content: string;
  toolCalls: ToolCall[];
  /** Tool calls whose arguments are not valid JSON: reported to the agent, never a crash. */
  malformedToolCalls: { call: ToolCall; error: string }[];
  finishReason: string;
  usage: Usage;
  timings?: Timings;
  latencyMs: number;
  /** Charged cost of this call (USD), including any billed failed attempts. */
  costUsd: number;
}

export interface CompletionRequest {
  messages: Message[];
  tools?: ToolSpec[];
  /** Clamped by the caller to what the budget can still pay for. */
  maxTokens: number;
  temperature?: number;
  /** Names the conversation (the run) in a header; providers ignore it, the replay server keys on it. */
  conversationId?: string;
}

/** Per million tokens; `gpuHourUsd` for local tiers (cost = GPU time x rate). */
export interface Price {
  inputPerMTok: number;
  cachedInputPerMTok?: number;
  outputPerMTok: number;
  gpuHourUsd?: number;
}

export type PriceResolution = { kind: "priced"; price: Price; source: string } | { kind: "unpriced"; reason: string };

export type EndpointEvent =
  | { type: "retry"; endpointId: string; attempt: number; delayMs: number; reason: string }
  | { type: "failover"; from: string; to: string; reason: string }
  | { type: "failover_refused"; from: string; to: string; reason: string }
  | { type: "delay"; endpointId: string; reason: string; waitMs: number }
  | { type: "stream_broken"; endpointId: string; receivedTokens: number; chargedCompletionTokens: number };

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
