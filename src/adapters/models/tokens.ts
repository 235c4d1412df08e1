/**
 * Counting prompt tokens before anything is sent. OpenAI-family models: gpt-tokenizer with the
 * model's encoding (special tokens counted as plain text, never an exception). llama.cpp: its
 * own /tokenize (see llama.ts). Anything else: an estimate, labelled approximate.
 */
import type { Message, ToolSpec } from "../../core/models.js";
import type { TokenCount } from "../../core/ports.js";
import type { Encoding } from "./fast-count.js";
import { countPieces } from "./token-pieces.js";

/** The number of tokens in a text, special tokens counted as plain text. */
type Count = (text: string) => number;
const counters = new Map<Encoding, Promise<Count>>();

/** Which encoding an OpenAI-family model uses, or undefined for other models. */
export function encodingFor(model: string): Encoding | undefined {
  const m = model.toLowerCase().replace(/^openai\//, "");
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o|gpt-oss)/.test(m)) return "o200k_base";
  if (/^(gpt-4|gpt-3\.5)/.test(m)) return "cl100k_base";
  return undefined;
}

/**
 * An encoding's counter: over the build's rank table (~40 ms to start, fast-count.ts), or where
 * that is missing or fails its self-check, gpt-tokenizer's full encoding (~200 ms to load).
 */
function counter(name: Encoding): Promise<Count> {
  let c = counters.get(name);
  if (!c) {
    c = (async () => {
      const fast = (await import("./fast-count.js")).fastCounter(name);
      if (fast) return fast;
      const { encode } =
        name === "o200k_base"
          ? await import("gpt-tokenizer/encoding/o200k_base")
          : await import("gpt-tokenizer/encoding/cl100k_base");
      const plain = { disallowedSpecial: new Set<string>() }; // "<|endoftext|>" in a file is text
      return (text: string) => encode(text, plain).length;
    })();
    counters.set(name, c);
  }
  return c;
}

/** The text a chat request is made of, in the order the model sees it. */
export function chatParts(messages: Message[], tools: ToolSpec[] = []): string[] {
  const parts: string[] = [];
  for (const m of messages) {
    parts.push(m.role, m.content ?? "");
    for (const c of m.toolCalls ?? []) parts.push(c.name, c.arguments);
  }
  if (tools.length) parts.push(JSON.stringify(tools.map((t) => ({ type: "function", function: t }))));
  return parts;
}

/** OpenAI's chat framing: ~3 tokens per message plus 3 to prime the reply. */
const PER_MESSAGE = 3;
const REPLY_PRIMING = 3;

export async function countChatTokens(model: string, messages: Message[], tools: ToolSpec[] = []): Promise<TokenCount> {
  const enc = encodingFor(model);
  if (!enc) return approximate(messages, tools);
  const framing = REPLY_PRIMING + messages.length * PER_MESSAGE;
  const method = `gpt-tokenizer ${enc}`;
  // Parts are counted one by one, so a part's count is its own: those counted before are known.
  const parts = chatParts(messages, tools);
  const cache = await import("./token-cache.js");
  const keys = parts.map((p) => cache.keyOf(enc, p));
  const known = keys.map((k) => cache.cachedCount(k));
  const missing = parts.filter((_, i) => known[i] === undefined);
  if (!missing.length) return { tokens: framing + known.reduce<number>((n, k) => n + k!, 0), exact: true, method };
  const counts = await countParts(enc, missing);
  let m = 0;
  let tokens = framing;
  keys.forEach((k, i) => {
    const n = known[i] ?? counts[m++]!;
    if (known[i] === undefined) cache.remember(k, n);
    tokens += n;
  });
  return { tokens, exact: true, method };
}

async function countParts(enc: Encoding, parts: string[]): Promise<number[]> {
  const count = await counter(enc);
  return parts.map((part) => countPieces(count, part));
}

export async function countText(model: string, text: string): Promise<TokenCount> {
  const enc = encodingFor(model);
  if (!enc) return { tokens: Math.ceil(text.length / 4), exact: false, method: "approximate (4 characters per token)" };
  return { tokens: countPieces(await counter(enc), text), exact: true, method: `gpt-tokenizer ${enc}` };
}

export function approximate(messages: Message[], tools: ToolSpec[] = []): TokenCount {
  const chars = chatParts(messages, tools).reduce((n, p) => n + p.length, 0);
  return {
    tokens: Math.ceil(chars / 4) + REPLY_PRIMING + messages.length * PER_MESSAGE,
    exact: false,
    method: "approximate (4 characters per token)",
  };
}

export type { TokenCount } from "../../core/ports.js";
