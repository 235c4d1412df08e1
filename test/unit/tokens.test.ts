import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encode } from "gpt-tokenizer/encoding/o200k_base";
import { encode as encodeCl100k } from "gpt-tokenizer/encoding/cl100k_base";
import o200kRanks from "gpt-tokenizer/bpeRanks/o200k_base";
import cl100kRanks from "gpt-tokenizer/bpeRanks/cl100k_base";
import { buildRankTable, readRankTable } from "../../src/adapters/models/rank-table.js";
import { counterFrom, fastCounter } from "../../src/adapters/models/fast-count.js";
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
      expect(countPieces((t) => plain(t).length, text)).toBe(plain(text).length);
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

describe("counts remembered by content", () => {
  it("a part counted once is not counted again, and the total stays exact", async () => {
    const home = mkdtempSync(join(tmpdir(), "lanes-tokens-"));
    const before = process.env.LANES_HOME;
    process.env.LANES_HOME = home;
    try {
      const { countChatTokens } = await import("../../src/adapters/models/tokens.js");
      const messages = [
        { role: "system" as const, content: "You fix bugs." },
        { role: "user" as const, content: "the listing\nsrc/a.ts\nsrc/b.ts" },
      ];
      const first = await countChatTokens("gpt-4.1-mini", messages);
      const exact =
        3 +
        2 * 3 +
        ["system", "You fix bugs.", "user", "the listing\nsrc/a.ts\nsrc/b.ts"]
          .map((p) => plain(p).length)
          .reduce((a, b) => a + b, 0);
      expect(first).toMatchObject({ tokens: exact, exact: true });
      (await import("../../src/adapters/models/token-cache.js")).persist(); // as the process ends
      const file = join(home, "cache", "token-counts.json");
      const saved = JSON.parse(readFileSync(file, "utf8")) as Record<string, number>;
      expect(Object.keys(saved)).toHaveLength(4);
      expect((await countChatTokens("gpt-4.1-mini", messages)).tokens).toBe(exact);
      // A new part is counted (exactly); the known ones come from what was remembered.
      const more = [...messages, { role: "user" as const, content: "and one more thing" }];
      expect((await countChatTokens("gpt-4.1-mini", more)).tokens).toBe(
        exact + 3 + 1 + plain("and one more thing").length,
      );
    } finally {
      process.env.LANES_HOME = before;
    }
  });
});

describe("counting over lanes' rank tables is gpt-tokenizer's count, exactly", () => {
  const encoders = { o200k_base: encode, cl100k_base: encodeCl100k } as const;
  const tables = {
    o200k_base: readRankTable(buildRankTable(o200kRanks)),
    cl100k_base: readRankTable(buildRankTable(cl100kRanks)),
  };
  // Every plane of Unicode, lone surrogates, control bytes and the special tokens' text.
  const random = (n: number, max: number) =>
    Array.from({ length: n }, () => String.fromCodePoint(Math.floor(Math.random() * max))).join("");
  const texts = [
    readFileSync("templates/lanes.yaml", "utf8"),
    readFileSync("src/core/policy.ts", "utf8"),
    readFileSync("package-lock.json", "utf8").slice(0, 150_000),
    readFileSync("src/adapters/models/rank-table.ts", "utf8"),
    "<|endoftext|><|im_start|>user naïve café 東京 🙂 \u0000\t\r\n   x",
    random(20_000, 0x10ffff),
    random(20_000, 0x600),
    String.fromCharCode(0xd800, 0x41, 0xdfff),
  ];
  for (const encoding of ["o200k_base", "cl100k_base"] as const)
    it(`${encoding}: the same count on source, lockfiles, prose and random Unicode`, () => {
      const count = counterFrom(encoding, tables[encoding]);
      const plainOf = (t: string) => encoders[encoding](t, { disallowedSpecial: new Set() }).length;
      for (const text of texts) expect(count(text), text.slice(0, 40)).toBe(plainOf(text));
    });

  it("the built tables (dist/ranks) are what counting uses, and they pass the self-check", () => {
    // `npm test` builds first; a missing or corrupt table would fall back to the slow encoder.
    for (const encoding of ["o200k_base", "cl100k_base"] as const) {
      const count = fastCounter(encoding);
      expect(count, encoding).toBeTypeOf("function");
      expect(count!(texts[0]!)).toBe(encoders[encoding](texts[0]!, { disallowedSpecial: new Set() }).length);
    }
  });

  it("a file that is not a rank table is refused", () => {
    expect(() => readRankTable(Buffer.alloc(64))).toThrow(/not a lanes rank table/);
  });
});
