/**
 * A garbage-speaking endpoint over real HTTP: a 200 whose body is not JSON, server-sent events
 * whose data is not JSON, a stream cut mid-way. Each costs at most one worst-case call plus what
 * arrived, gives up quickly (an endpoint error: exit 6 in a run), and never leaks abort listeners.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { worstCaseUsd } from "../../src/core/cost.js";
import { countChatTokens } from "../../src/adapters/models/tokens.js";
import { ASK, PRICE, endpoint, recorder } from "../helpers/endpoints.js";

const servers: Server[] = [];
afterEach(() => servers.splice(0).forEach((s) => s.close()));

type Mode = "json-garbage" | "sse-garbage" | "cut" | "busy";
let hits = 0;

async function garbage(mode: Mode): Promise<{ url: string }> {
  hits = 0;
  const server = createServer((req, res) => {
    hits++;
    req.resume();
    if (mode === "json-garbage") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("<html>this is not json</html>");
    } else if (mode === "sse-garbage") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end("data: {this is not json\n\ndata: [DONE]\n\n");
    } else if (mode === "busy") {
      // Busy for 12 requests (retried at once: Retry-After 0), then a proper answer.
      if (hits <= 12) {
        res.writeHead(429, { "content-type": "application/json", "retry-after": "0" });
        res.end(JSON.stringify({ error: { message: "slow down" } }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id: "x",
          object: "chat.completion",
          created: 0,
          model: "gpt-4o",
          choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
          usage: { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 },
        }),
      );
    } else {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const chunk = {
        id: "x",
        object: "chat.completion.chunk",
        created: 0,
        model: "gpt-4o",
        choices: [{ index: 0, delta: { content: "Let me look" }, finish_reason: null }],
      };
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      setTimeout(() => res.socket?.destroy(), 20);
    }
  }).listen(0, "127.0.0.1");
  servers.push(server);
  await new Promise((r) => server.once("listening", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` };
}

describe("endpoint faults cost what they should", () => {
  it.each([
    ["a 200 whose body is not JSON", "json-garbage", false],
    ["server-sent events whose data is not JSON", "sse-garbage", true],
    ["a stream closed mid-way", "cut", true],
  ] as const)(
    "%s: gives up within two attempts, charged at most one worst case plus what arrived",
    async (_, mode, stream) => {
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.name);
      process.on("warning", onWarning);
      try {
        const s = await garbage(mode);
        const r = recorder();
        const ac = new AbortController();
        const t0 = Date.now();
        const err = await endpoint(s)
          .complete(ASK, { ...r.hooks, stream, signal: ac.signal, retryForMs: 30_000 })
          .catch((e: unknown) => e);
        expect(err).toMatchObject({ kind: "endpoint", message: expect.stringMatching(/gave up after 2 attempt/) });
        expect(hits).toBe(2);
        expect(Date.now() - t0).toBeLessThan(15_000);
        const prompt = (await countChatTokens("gpt-4o", ASK.messages)).tokens;
        const worst = worstCaseUsd(prompt, ASK.maxTokens, PRICE);
        const total = r.billed.reduce<number>((a, b) => a + (b ?? 0), 0);
        // One worst-case call, plus the second attempt's prompt and the few tokens that arrived.
        expect(total).toBeLessThanOrEqual(
          worst + ((prompt + 10) * (PRICE.inputPerMTok + PRICE.outputPerMTok)) / 1e6 + 1e-12,
        );
        expect(total).toBeGreaterThanOrEqual(worst - 1e-12);
        // The run's signal got no listener that outlived its attempt.
        expect(warnings).not.toContain("MaxListenersExceededWarning");
      } finally {
        process.off("warning", onWarning);
      }
    },
  );

  it("a dozen retries on one run's signal leave no listener behind (no MaxListenersExceededWarning)", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    try {
      const s = await garbage("busy");
      const ac = new AbortController();
      const c = await endpoint(s).complete(ASK, {
        ...recorder().hooks,
        stream: false,
        signal: ac.signal,
        retryForMs: 30_000,
      });
      expect(c.content).toBe("ok");
      expect(hits).toBe(13);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings).not.toContain("MaxListenersExceededWarning");
    } finally {
      process.off("warning", onWarning);
    }
  });
});
