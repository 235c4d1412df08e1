import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
