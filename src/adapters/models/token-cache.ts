/**
 * Counts of text pieces already counted, by content hash: a plan's system prompt, tool schemas,
 * repository listing and (when re-planned, or run after its plan) task text are the same bytes
 * every time, and counting them again means loading the encoding (~100 ms). A count is keyed by
 * the encoding, gpt-tokenizer's version and the exact text, so a hit is the count encoding it
 * would give. Kept in LANES_HOME/cache/token-counts.json (the newest 4,000), written when the
 * process ends; a lost write only costs a recount.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { dataDir } from "../config/paths.js";

const MAX = 4000;
let cache: Map<string, number> | undefined;
let dirty = false;
let salt: string | undefined;

const file = () => join(dataDir(), "cache", "token-counts.json");

function load(): Map<string, number> {
  if (cache) return cache;
  try {
    cache = new Map(Object.entries(JSON.parse(readFileSync(file(), "utf8")) as Record<string, number>));
  } catch {
    cache = new Map();
  }
  return cache;
}

export function keyOf(encoding: string, text: string): string {
  salt ??= (createRequire(import.meta.url)("gpt-tokenizer/package.json") as { version: string }).version;
  return createHash("sha256").update(`${encoding}\0${salt}\0`).update(text).digest("base64url").slice(0, 32);
}

export function cachedCount(key: string): number | undefined {
  return load().get(key);
}

export function remember(key: string, tokens: number): void {
  const c = load();
  if (c.get(key) === tokens) return;
  c.delete(key);
  c.set(key, tokens);
  // Written once, as the process ends: a batch of 10,000 plans must not rewrite it 10,000 times.
  if (!dirty) process.once("exit", persist);
  dirty = true;
}

/** Write what was learned (atomic rename, so readers never see half a file). */
export function persist(): void {
  if (!dirty || !cache) return;
  dirty = false;
  const entries = [...cache.entries()].slice(-MAX);
  try {
    mkdirSync(dirname(file()), { recursive: true });
    const tmp = `${file()}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(entries)));
    renameSync(tmp, file());
  } catch {
    /* a cache: not being able to write it only costs a recount next time */
  }
}
