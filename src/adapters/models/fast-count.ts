/**
 * Counting with gpt-tokenizer's own BPE over a rank table (rank-table.ts) instead of its
 * 200,000-entry Map: counting starts in ~40 ms (imports and table) instead of ~200 ms. The core is the library's
 * BytePairEncodingCore built with no ranks, then given the table's lookups in place of the two
 * it would have built (the string Map and the sorted non-UTF list). gpt-tokenizer is pinned to
 * the version this was written against; if its internals ever differ, the self-check below
 * fails and counting falls back to the library's full encoding (slower, never wrong).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BytePairEncodingCore } from "gpt-tokenizer/BytePairEncodingCore";
import { Cl100KBase } from "gpt-tokenizer/encodingParams/cl100k_base";
import { O200KBase } from "gpt-tokenizer/encodingParams/o200k_base";
import { packageFile } from "../own-files.js";
import { readRankTable, type RankTable } from "./rank-table.js";

export type Encoding = "o200k_base" | "cl100k_base";

/** Where the build writes an encoding's table (beside the code that reads it, in dist/). */
export const rankTableFile = (encoding: Encoding) => packageFile(`dist/ranks/${encoding}.bin`);

/** A counter over a table: the number of tokens gpt-tokenizer's encode() would return. */
export function counterFrom(encoding: Encoding, table: RankTable): (text: string) => number {
  // The encoding's own parameters (pre-tokenizer, special tokens), with no ranks to load.
  const core = new BytePairEncodingCore(encoding === "o200k_base" ? O200KBase([]) : Cl100KBase([]));
  const inner = core as unknown as {
    bytePairStringRankEncoder: { get(key: string): number | undefined };
    bytePairNonUtfSortedEncoder: [Uint8Array, number][];
  };
  inner.bytePairStringRankEncoder = table;
  inner.bytePairNonUtfSortedEncoder = table.nonUtf;
  // No special tokens allowed: "<|endoftext|>" in a file is counted as text.
  return (text) => core.countNative(text);
}

/** Known counts (checked against gpt-tokenizer's encode when this was written). */
const SELF_CHECK: Record<Encoding, [string, number]> = {
  o200k_base: ["Hello, world! <|endoftext|> naïve café 東京 🙂", 16],
  cl100k_base: ["Hello, world! <|endoftext|> naïve café 東京 🙂", 17],
};

/** The table-backed counter for an encoding, or undefined where its table is missing or off. */
export function fastCounter(encoding: Encoding): ((text: string) => number) | undefined {
  let file: Buffer;
  try {
    file = readFileSync(fileURLToPath(rankTableFile(encoding)));
  } catch {
    return undefined; // not built (running from sources before `npm run build`)
  }
  try {
    const count = counterFrom(encoding, readRankTable(file));
    const [text, expected] = SELF_CHECK[encoding];
    return count(text) === expected ? count : undefined;
  } catch {
    return undefined;
  }
}
