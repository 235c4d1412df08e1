import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { encode } from "gpt-tokenizer/encoding/o200k_base";
import { countPieces, tokenPieces } from "../../src/adapters/models/token-pieces.js";
import { countText } from "../../src/adapters/models/tokens.js";

const plain = (t: string) => encode(t, { disallowedSpecial: new Set() });

describe("token counting on long and pathological text", () => {
  it("counts ordinary text exactly as one encode call does", () => {
    for (const text of [
      readFileSync("templates/lanes.yaml", "utf8").repeat(20),
      readFileSync("package-lock.json", "utf8").slice(0, 200_000),
      readFileSync("src/core/agent.ts", "utf8").repeat(3),
    ])
      expect(countPieces(plain, text)).toBe(plain(text).length);
  });
  it("cuts a run with no gaps into short pieces, and keeps every character", () => {
    const text = "x".repeat(10_000);
    const pieces = tokenPieces(text);
    expect(pieces.join("")).toBe(text);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThanOrEqual(1024);
  });
  it("counts a megabyte of one character in linear time (was minutes)", async () => {
    const started = performance.now();
    const n = await countText("gpt-4o-mini", "a".repeat(1_000_000));
    expect(n.tokens).toBe(125_000);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
