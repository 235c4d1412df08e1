/**
 * An encoding's BPE ranks as one binary file that loads in a few milliseconds. gpt-tokenizer
 * ships o200k_base as a 2.4 MB JavaScript array that takes ~200 ms to parse and turn into a Map
 * of 200,000 strings — most of a `lanes plan` that counts a new task. Counting needs only the
 * ranks of the few pieces a text is made of, so the build (scripts/rank-tables.mjs) writes the
 * same ranks as an open-addressing hash table, and a count looks up only what it meets.
 *
 * The BPE itself stays gpt-tokenizer's (its pre-tokenizer, merge loop and special tokens, see
 * fast-count.ts): only where a rank is looked up differs, so counts are the library's, exactly
 * (test/unit/tokens.test.ts compares them on real files and on every kind of character).
 *
 * Layout, little-endian: a 20-byte header (magic, ranks, slots, UTF-16 units, non-UTF entries),
 * slots (int32: rank + 1, or 0 when empty), offsets (uint32 per rank + 1, into the text),
 * the text (UTF-16 code units of every string rank), then each non-UTF rank as
 * (uint32 rank, uint32 length, bytes).
 */

/** Rank → text, or its bytes when they are not valid UTF-8 (gpt-tokenizer's bpeRanks arrays). */
export type Ranks = readonly (string | readonly number[])[];

export interface RankTable {
  /** The rank of a string piece, as gpt-tokenizer's string Map would answer. */
  get(key: string): number | undefined;
  /** Ranks whose bytes are not UTF-8, sorted by bytes (gpt-tokenizer's binary-search list). */
  nonUtf: [Uint8Array, number][];
}

const MAGIC = 0x3154524c; // "LRT1"
const HEADER = 20;

/** FNV-1a over UTF-16 code units: strings are hashed as they are, never encoded first. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function buildRankTable(ranks: Ranks): Buffer {
  const count = ranks.length;
  let slots = 1;
  while (slots < count * 2) slots <<= 1; // at most half full: short probes
  const table = new Int32Array(slots);
  const offsets = new Uint32Array(count + 1);
  const units = ranks.reduce((n, v) => n + (typeof v === "string" ? v.length : 0), 0);
  const text = new Uint16Array(units);
  const nonUtf: Buffer[] = [];
  let at = 0;
  ranks.forEach((v, rank) => {
    offsets[rank] = at;
    if (typeof v !== "string") {
      const entry = Buffer.alloc(8 + v.length);
      entry.writeUInt32LE(rank, 0);
      entry.writeUInt32LE(v.length, 4);
      Buffer.from(v).copy(entry, 8);
      nonUtf.push(entry);
      return;
    }
    for (let i = 0; i < v.length; i++) text[at++] = v.charCodeAt(i);
    let h = hash(v) & (slots - 1);
    while (table[h]) h = (h + 1) & (slots - 1);
    table[h] = rank + 1;
  });
  offsets[count] = at;
  const header = Buffer.alloc(HEADER);
  [MAGIC, count, slots, units, nonUtf.length].forEach((n, i) => header.writeUInt32LE(n, i * 4));
  const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  return Buffer.concat([header, bytes(table), bytes(offsets), bytes(text), ...nonUtf]);
}

export function readRankTable(file: Buffer): RankTable {
  // Typed-array views need aligned offsets; a Buffer from a pool may not start aligned.
  const buf = file.byteOffset % 4 ? Buffer.from(file) : file;
  const [magic, count, slots, units, nonUtfCount] = [0, 1, 2, 3, 4].map((i) => buf.readUInt32LE(i * 4)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  if (magic !== MAGIC) throw new Error("not a lanes rank table");
  let at = buf.byteOffset + HEADER;
  const table = new Int32Array(buf.buffer, at, slots);
  at += slots * 4;
  const offsets = new Uint32Array(buf.buffer, at, count + 1);
  at += (count + 1) * 4;
  const text = new Uint16Array(buf.buffer, at, units);
  let pos = at + units * 2 - buf.byteOffset;
  const nonUtf: [Uint8Array, number][] = [];
  for (let i = 0; i < nonUtfCount; i++) {
    const rank = buf.readUInt32LE(pos);
    const len = buf.readUInt32LE(pos + 4);
    nonUtf.push([new Uint8Array(buf.subarray(pos + 8, pos + 8 + len)), rank]);
    pos += 8 + len;
  }
  nonUtf.sort((a, b) => Buffer.compare(a[0], b[0]));
  const mask = slots - 1;
  const get = (key: string): number | undefined => {
    for (let h = hash(key) & mask; ; h = (h + 1) & mask) {
      const slot = table[h]!;
      if (!slot) return undefined;
      const start = offsets[slot - 1]!;
      if (offsets[slot]! - start !== key.length) continue;
      let i = 0;
      while (i < key.length && text[start + i] === key.charCodeAt(i)) i++;
      if (i === key.length) return slot - 1;
    }
  };
  return { get, nonUtf };
}
