import { afterEach, describe, expect, it } from "vitest";
import { encode } from "gpt-tokenizer/encoding/o200k_base";
import { callCostUsd } from "../../src/core/cost.js";
import { completeWithFailover } from "../../src/app/failover.js";
import { countChatTokens, countText } from "../../src/adapters/models/tokens.js";
import { ASK, PRICE, closeAll, closedPort, endpoint, recorder, replay } from "../helpers/endpoints.js";

afterEach(closeAll);
const bounds = { C1: 0.1, C2: 1, C3: 10 };

describe("usage accounting", () => {
  for (const stream of [true, false]) {
    it(`reports the server's usage and prices it (${stream ? "streaming" : "non-streaming"})`, async () => {
      const s = await replay({
        turns: [
          {
            say: "Looking.",
            tools: [{ bash: { command: "npm test" } }],
            usage: { prompt_tokens: 1000, completion_tokens: 50 },
          },
        ],
      });
      const r = recorder();
      const c = await endpoint(s).complete(ASK, { ...r.hooks, stream });
      expect(c.content).toBe("Looking.");
      expect(c.toolCalls).toEqual([{ id: expect.any(String), name: "bash", arguments: '{"command":"npm test"}' }]);
      expect(c.finishReason).toBe("tool_calls");
      expect(c.usage).toEqual({ promptTokens: 1000, completionTokens: 50, cachedTokens: 0, estimated: false });
      expect(c.costUsd).toBeCloseTo((1000 * 1 + 50 * 4) / 1e6, 12);
      expect(r.billed).toEqual([c.costUsd]);
      expect(s.requests).toHaveLength(1);
      expect(s.requests[0]).toMatchObject({ stream, max_completion_tokens: 200 });
      if (stream) expect(s.requests[0]).toMatchObject({ stream_options: { include_usage: true } });
    });
  }
  it("prices cached input at the cached rate", () => {
    expect(
      callCostUsd(
        { promptTokens: 1000, completionTokens: 0, cachedTokens: 400, estimated: false },
        { ...PRICE, cachedInputPerMTok: 0.25 },
      ),
    ).toBeCloseTo((600 + 400 * 0.25) / 1e6, 12);
  });
});

describe("calls that cannot overspend or hang", () => {
  it("retries a 429 after its Retry-After and charges only the answered call", async () => {
    const s = await replay({
      turns: [
        { fault: "rate_limit", retryAfter: 1 },
        { say: "ok", usage: { prompt_tokens: 10, completion_tokens: 2 } },
      ],
    });
    const r = recorder();
    const t0 = Date.now();
    const c = await endpoint(s).complete(ASK, r.hooks);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(c.content).toBe("ok");
    expect(r.events).toEqual([{ type: "retry", endpointId: "ep", attempt: 1, delayMs: 1000, reason: "HTTP 429" }]);
    expect(r.billed).toHaveLength(1);
    expect(s.requests).toHaveLength(2);
  });

  it("does not retry when the budget cannot pay another attempt", async () => {
    const s = await replay({ turns: [{ fault: "server_error" }, { say: "never" }] });
    await expect(endpoint(s).complete(ASK, { canAfford: () => false })).rejects.toMatchObject({ kind: "quota" });
    expect(s.requests).toHaveLength(1);
  });

  it("fails over on 500 to a fallback of the same cost class, announcing it", async () => {
    const bad = await replay({ repeatLast: true, turns: [{ fault: "server_error" }] });
    const good = await replay({ turns: [{ say: "from the fallback" }] });
    const r = recorder();
    const eps = new Map([
      ["a", endpoint(bad, { id: "a", fallbacks: ["b"] })],
      ["b", endpoint(good, { id: "b" })],
    ]);
    const c = await completeWithFailover(eps, "a", ASK, bounds, { ...r.hooks, retryForMs: 1500 });
    expect(c.content).toBe("from the fallback");
    expect(c.endpointId).toBe("b");
    expect(r.events.filter((e) => e.type === "failover")).toEqual([
      { type: "failover", from: "a", to: "b", reason: expect.stringContaining("HTTP 500") },
    ]);
  });

  it("never fails over to a pricier cost class", async () => {
    const bad = await replay({ repeatLast: true, turns: [{ fault: "server_error" }] });
    const pricey = await replay({ turns: [{ say: "expensive" }] });
    const r = recorder();
    const eps = new Map([
      ["a", endpoint(bad, { id: "a", fallbacks: ["b"] })],
      [
        "b",
        endpoint(pricey, {
          id: "b",
          price: { kind: "priced", price: { inputPerMTok: 5000, outputPerMTok: 20000 }, source: "test" },
        }),
      ],
    ]);
    await expect(completeWithFailover(eps, "a", ASK, bounds, { ...r.hooks, retryForMs: 1200 })).rejects.toMatchObject({
      kind: "endpoint",
    });
    expect(r.events.find((e) => e.type === "failover_refused")).toMatchObject({
      from: "a",
      to: "b",
      reason: expect.stringMatching(/b is C\d, above C\d/),
    });
    expect(pricey.requests).toHaveLength(0);
  });

  it("charges a stream cut mid-way as what arrived plus the worst case for the rest, then retries", async () => {
    const s = await replay({
      turns: [
        { say: "a fairly long answer that will not arrive whole", fault: "cut" },
        { say: "whole", usage: { prompt_tokens: 10, completion_tokens: 1 } },
      ],
    });
    const r = recorder();
    const c = await endpoint(s).complete(ASK, r.hooks);
    expect(c.content).toBe("whole");
    const prompt = (await countChatTokens("gpt-4o", ASK.messages)).tokens;
    const broken = r.events.find((e) => e.type === "stream_broken");
    expect(broken).toMatchObject({ chargedCompletionTokens: 200 });
    expect(r.billed[0]).toBeCloseTo((prompt * 1 + 200 * 4) / 1e6, 12);
    expect(c.costUsd).toBeCloseTo(r.billed[0]! + (10 + 4) / 1e6, 12);
  });

  it("times out a slow first token, charges that attempt's worst case, and retries", async () => {
    const s = await replay({ turns: [{ say: "late", delayMs: 2500 }, { say: "on time" }] });
    const r = recorder();
    const t0 = Date.now();
    const c = await endpoint(s, { timeoutMs: 500 }).complete(ASK, r.hooks);
    expect(c.content).toBe("on time");
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(r.events[0]).toMatchObject({ type: "retry", reason: "no answer within 500 ms" });
    expect(r.billed).toHaveLength(2);
  });

  it("gives up on an unreachable endpoint quickly with its URL (exit 6 kind)", async () => {
    const url = `http://127.0.0.1:${await closedPort()}/v1`;
    const t0 = Date.now();
    await expect(endpoint({ url }).complete(ASK)).rejects.toMatchObject({
      kind: "endpoint",
      exitCode: 6,
      message: expect.stringContaining(`${url}) is unreachable (ECONNREFUSED)`),
    });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("returns malformed tool-call arguments as a model error the agent can see", async () => {
    const s = await replay({ turns: [{ tools: [{ bash: '{"command": "ls"' }] }] });
    const c = await endpoint(s).complete(ASK);
    expect(c.toolCalls).toEqual([]);
    expect(c.malformedToolCalls).toEqual([
      {
        call: { id: expect.any(String), name: "bash", arguments: '{"command": "ls"' },
        error: expect.stringContaining("not valid JSON"),
      },
    ]);
  });

  it("makes the call over the tokens-per-minute limit wait, and says so", async () => {
    const s = await replay({ repeatLast: true, turns: [{ say: "ok" }] });
    const ep = endpoint(s, { tpm: 6000 });
    const r = recorder();
    const req = { ...ASK, maxTokens: 3000 };
    await ep.complete(req, r.hooks);
    expect(r.events.filter((e) => e.type === "delay")).toEqual([]);
    await ep.complete(req, r.hooks);
    const delay = r.events.find((e) => e.type === "delay");
    expect(delay).toMatchObject({ endpointId: "ep", reason: "rate limit: 6000 tokens/min" });
    expect((delay as { waitMs: number }).waitMs).toBeGreaterThan(0);
  });
});

describe("token counts", () => {
  const fixtures = [
    "",
    "hello world",
    "function add(a, b) { return a + b; }\n".repeat(50),
    "unicode: añb 日本語 🚀",
    "a literal <|endoftext|> and <|im_start|> in a file",
  ];
  it.each(fixtures.map((f) => [f.slice(0, 20), f]))(
    "equal gpt-tokenizer's for %j, special tokens as text",
    async (_, text) => {
      expect((await countText("gpt-4.1", text)).tokens).toBe(encode(text, { disallowedSpecial: new Set() }).length);
    },
  );
  it("counts a chat with framing, exactly for OpenAI models and approximately otherwise", async () => {
    const msgs = [
      { role: "system" as const, content: "You are terse." },
      { role: "user" as const, content: "hi" },
    ];
    const exact = await countChatTokens("gpt-4o", msgs);
    expect(exact).toMatchObject({ exact: true, method: "gpt-tokenizer o200k_base" });
    expect(exact.tokens).toBe(
      3 + 2 * 3 + ["system", "You are terse.", "user", "hi"].reduce((n, t) => n + encode(t).length, 0),
    );
    expect(await countChatTokens("some-local-model", msgs)).toMatchObject({
      exact: false,
      method: expect.stringContaining("approximate"),
    });
  });
});
