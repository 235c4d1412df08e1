/**
 * Counting prompt tokens before anything is sent. OpenAI-family models: gpt-tokenizer with the
 * model's encoding (special tokens counted as plain text, never an exception). llama.cpp: its
 * own /tokenize (see llama.ts). Anything else: an estimate, labelled approximate.
 */
import type { Message, ToolSpec } from "../../core/models.js";
import type { TokenCount } from "../../core/ports.js";
import { ownFile } from "../own-files.js";
import { countPieces } from "./token-pieces.js";

type Encode = (text: string, opts?: { disallowedSpecial?: Set<string> }) => number[];
const encoders = new Map<string, Promise<Encode>>();

/** Which encoding an OpenAI-family model uses, or undefined for other models. */
export function encodingFor(model: string): "o200k_base" | "cl100k_base" | undefined {
  const m = model.toLowerCase().replace(/^openai\//, "");
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o|gpt-oss)/.test(m)) return "o200k_base";
  if (/^(gpt-4|gpt-3\.5)/.test(m)) return "cl100k_base";
  return undefined;
}

/** Each part's count, in the worker. */
type Counter = (parts: string[]) => Promise<number[]>;
const workers = new Map<string, Promise<Counter | undefined>>();

/**
 * Start loading an encoding in a worker thread now, so a later count does not wait for it on
 * the main thread. The worker never keeps lanes running on its own: a plan whose counts are all
 * cached ends without waiting for the encoding to finish loading. Only a count waiting on it
 * (or in flight) holds the process open.
 */
export function prefetchEncoding(name: "o200k_base" | "cl100k_base"): void {
  if (workers.has(name) || encoders.has(name)) return;
  workers.set(
    name,
    startWorker(name).catch(() => undefined),
  );
}

async function startWorker(name: "o200k_base" | "cl100k_base"): Promise<Counter | undefined> {
  const { Worker } = await import("node:worker_threads");
  const { existsSync } = await import("node:fs");
  const { fileURLToPath } = await import("node:url");
  const file = fileURLToPath(ownFile("adapters/models/token-worker.js"));
  if (!existsSync(file)) return undefined; // running from TypeScript sources
  const w = new Worker(file, { workerData: { encoding: name } });
  const pending = new Map<number, { resolve: (counts: number[]) => void; reject: (e: Error) => void }>();
  let failed: Error | undefined;
  const fail = (e: Error) => {
    failed = e;
    for (const p of pending.values()) p.reject(e);
  };
  const ready = new Promise<void>((resolve) => {
    w.on("message", (m: { ready?: boolean; id?: number; counts?: number[] }) => {
      if (m.ready) resolve();
      else if (m.id !== undefined) pending.get(m.id)?.resolve(m.counts!);
    });
  });
  w.once("error", fail);
  w.once("exit", (code) => fail(new Error(`token worker exited (${code})`)));
  w.unref(); // after the listeners: adding a "message" listener refs the worker's port again
  let next = 1;
  return async (parts) => {
    const id = next++;
    w.ref(); // a count waits on it: loading (if still loading) and counting keep lanes running
    try {
      return await new Promise<number[]>((resolve, reject) => {
        if (failed) return reject(failed);
        pending.set(id, { resolve, reject });
        void ready.then(() => w.postMessage({ id, parts }));
      });
    } finally {
      pending.delete(id);
      if (!pending.size) w.unref();
    }
  };
}

function encoder(name: "o200k_base" | "cl100k_base"): Promise<Encode> {
  let e = encoders.get(name);
  if (!e) {
    e = (
      name === "o200k_base" ? import("gpt-tokenizer/encoding/o200k_base") : import("gpt-tokenizer/encoding/cl100k_base")
    ).then((m) => m.encode as Encode);
    encoders.set(name, e);
  }
  return e;
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

/** Each part's count: in the prefetched worker when there is one, else here. */
async function countParts(enc: "o200k_base" | "cl100k_base", parts: string[]): Promise<number[]> {
  const worker = await workers.get(enc);
  if (worker) {
    try {
      return await worker(parts);
    } catch {
      workers.delete(enc); // it failed to load or died: count here instead
    }
  }
  const encode = await encoder(enc);
  const plain = { disallowedSpecial: new Set<string>() }; // "<|endoftext|>" in a file is text
  return parts.map((part) => countPieces((t) => encode(t, plain), part));
}

export async function countText(model: string, text: string): Promise<TokenCount> {
  const enc = encodingFor(model);
  if (!enc) return { tokens: Math.ceil(text.length / 4), exact: false, method: "approximate (4 characters per token)" };
  const encode = await encoder(enc);
  const plain = { disallowedSpecial: new Set<string>() };
  return { tokens: countPieces((t) => encode(t, plain), text), exact: true, method: `gpt-tokenizer ${enc}` };
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
