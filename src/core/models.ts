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
  /** The call's average share of the server while it ran (1 = alone; 0.5 = one of two busy slots). */
  share?: number;
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

export type EndpointEvent =
  | { type: "retry"; endpointId: string; attempt: number; delayMs: number; reason: string }
  | { type: "failover"; from: string; to: string; reason: string }
  | { type: "failover_refused"; from: string; to: string; reason: string }
  | { type: "delay"; endpointId: string; reason: string; waitMs: number }
  | { type: "stream_broken"; endpointId: string; receivedTokens: number; chargedCompletionTokens: number };
