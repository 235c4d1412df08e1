/**
 * What the gateway makes of a client's request in any of the three protocols it speaks (OpenAI
 * Chat Completions and Responses, Anthropic Messages): the core's messages and tools, and how
 * the answer goes back. Each protocol module is pure: JSON in, JSON or server-sent events out.
 */
import type { Completion, Message, ToolSpec } from "../models.js";

export interface GatewayCall {
  /** The model the client named (echoed back; the lane decides what actually answers). */
  model: string;
  messages: Message[];
  tools: ToolSpec[];
  /** The client's own limit on completion tokens, if it set one (the hold may clamp it further). */
  maxTokens?: number | undefined;
  temperature?: number | undefined;
  stream: boolean;
  /** The request as the client sent it (passed through to an endpoint that speaks its protocol). */
  raw?: Record<string, unknown> | undefined;
}

/** A metered call's outcome: the completion, or the HTTP status and message the client gets. */
export type CallResult =
  | { ok: true; completion: Completion }
  /** Passed through: the endpoint's own answer has already gone to the client. */
  | { ok: true; passed: true }
  | { ok: false; status: number; message: string };

/** Where an endpoint's own answer goes, as it arrives (a passed-through call). */
export interface RawSink {
  start(status: number, contentType: string): void;
  write(chunk: string): void;
}

/** How a call's answer reaches the agent: text as it streams in, or the endpoint's own bytes (passthrough). */
export interface CallIo {
  onDelta?: ((text: string) => void) | undefined;
  raw?: RawSink | undefined;
}

/** A request the gateway cannot make sense of: answered 400 with this message. */
export class BadRequest extends Error {}

/** One protocol's answer: a whole body, or a stream of server-sent events built piece by piece. */
export interface Answerer {
  /** The complete (non-streamed) response body. */
  body(c: Completion): unknown;
  /** Events before any text (a stream's opening). */
  open(): string;
  /** Events for a piece of text as it arrives. */
  delta(text: string): string;
  /** Events that finish the stream: the rest of the answer (tool calls), usage, the end. */
  close(c: Completion, streamedText: string): string;
  /** A failure after the stream has begun, as that protocol's error event. */
  fail(message: string): string;
  /** An error body (before a stream has begun). */
  error(status: number, message: string): unknown;
}

export function sse(data: unknown, event?: string): string {
  return `${event ? `event: ${event}\n` : ""}data: ${JSON.stringify(data)}\n\n`;
}

export function obj(v: unknown, what: string): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new BadRequest(`${what} must be an object`);
  return v as Record<string, unknown>;
}

export function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new BadRequest(`${what} must be an array`);
  return v;
}

export function optInt(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1)
    throw new BadRequest(`${what} must be a positive integer`);
  return v;
}

export function optNum(v: unknown): number | undefined {
  return typeof v === "number" ? v : undefined;
}

/**
 * A request's function tools: `pick` gives each one's name, description and `parameters` schema,
 * or undefined for a tool of another kind (left out: the model is offered functions only).
 */
export function functionTools(
  tools: unknown,
  pick: (t: Record<string, unknown>) => Record<string, unknown> | undefined,
): ToolSpec[] {
  return (Array.isArray(tools) ? tools : []).flatMap((raw) => {
    const f = pick(obj(raw, "tools[]"));
    if (!f) return [];
    const parameters = (f.parameters as Record<string, unknown> | undefined) ?? { type: "object", properties: {} };
    return [{ name: String(f.name ?? ""), description: String(f.description ?? ""), parameters }];
  });
}

/** Text of a content value: a string, or parts with `text` (images and the like are named, not sent). */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return content == null ? "" : JSON.stringify(content);
  return content
    .map((p) => {
      const part = p as { type?: string; text?: unknown };
      if (typeof part.text === "string") return part.text;
      return `[${part.type ?? "part"} omitted by the lanes gateway]`;
    })
    .join("");
}

/** A tool call's arguments as one JSON object text. */
export function argsOf(c: { arguments: string }): Record<string, unknown> {
  try {
    const v = JSON.parse(c.arguments || "{}") as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Every tool call of a completion, the malformed ones too (the client's agent reports those). */
export function callsOf(c: Completion): { id: string; name: string; arguments: string }[] {
  return [...c.toolCalls, ...c.malformedToolCalls.map((m) => m.call)];
}

export function newId(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}
