/**
 * The model gateway over real HTTP: the run token (refused when wrong, and once the run ended
 * even on an open connection), bad and oversized requests, calls metered against a real hold in
 * a SQLite ledger, and the refusal when the hold cannot pay.
 */
import { request as httpRequest, Agent } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Ledger } from "../../src/adapters/store/ledger.js";
import { startGateway, type Gateway } from "../../src/adapters/gateway/server.js";
import { GatewayCalls } from "../../src/app/gateway-calls.js";
import { passThrough } from "../../src/adapters/gateway/passthrough.js";
import { redact } from "../../src/core/redact.js";
import { HoldMeter } from "../../src/app/meter.js";
import type { RunEvent, RunStatus } from "../../src/core/run-events.js";
import { tempHome } from "../helpers/cli.js";
import { closeAll, endpoint, PRICE, replay } from "../helpers/endpoints.js";

const TOKEN = "run-token-0123456789abcdef0123456789abcdef";
const gateways: Gateway[] = [];
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
  await closeAll();
});

async function setup(capUsd = 0.25, turns = [{ say: "hello there" }, { say: "again" }]) {
  const server = await replay({ model: "gpt-4o", repeatLast: true, turns });
  const ep = endpoint(server, { model: "gpt-4o" });
  const ledger = Ledger.open(join(tempHome().dir, "ledger.db"));
  const hold = ledger.reserve({
    runId: "r1",
    lane: "t",
    buckets: [
      {
        key: "team:t:month:2026-12",
        scope: "team",
        id: "t",
        period: "month",
        unit: "usd",
        limit: 10,
        kind: "hard",
        resetsAt: "2027-01-01T00:00:00Z",
      },
    ],
    caps: { usd: capUsd },
    ttlMs: 60_000,
  });
  const events: RunEvent[] = [];
  const stops: [RunStatus, string][] = [];
  const calls = new GatewayCalls({
    endpoints: new Map([[ep.id, ep]]),
    endpointId: ep.id,
    costClasses: { C1: 0.1, C2: 1, C3: 10 },
    meter: new HoldMeter(ledger, hold.id, capUsd, PRICE),
    emit: (e) => events.push(e),
    runId: "r1",
    limits: { steps: 20, maxTokensPerCall: 1000, minTokensPerCall: 16 },
    signal: new AbortController().signal,
    onStop: (status, reason) => stops.push([status, reason]),
  });
  const gw = await startGateway(TOKEN, {
    call: (c, p, io) => calls.call(c, p, io),
    countTokens: async (c) => (await ep.countTokens(c)).tokens,
  });
  gateways.push(gw);
  const url = `http://127.0.0.1:${gw.port}`;
  return { url, gw, calls, ledger, hold, events, stops, server };
}

const chat = { model: "any", messages: [{ role: "user", content: "hi" }] };

function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}, agent?: Agent) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const data = typeof body === "string" ? body : JSON.stringify(body);
    const req = httpRequest(
      `${url}${path}`,
      { method: "POST", headers: { "content-type": "application/json", ...headers }, agent: agent ?? false },
      (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, text }));
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

describe("the model gateway", () => {
  it("answers only the run's token, and refuses it once the run has ended, even on an open connection", async () => {
    const { url, gw } = await setup();
    expect((await post(url, "/v1/chat/completions", chat)).status).toBe(401);
    const wrong = await post(url, "/v1/chat/completions", chat, { authorization: "Bearer nope" });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.text).error.message).toMatch(/token is not valid/);
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const ok = await post(url, "/v1/chat/completions", chat, { authorization: `Bearer ${TOKEN}` }, keepAlive);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).choices[0].message.content).toBe("hello there");
    const anthropic = await post(url, "/v1/messages", { ...chat, max_tokens: 50 }, { "x-api-key": TOKEN });
    expect(JSON.parse(anthropic.text).content).toEqual([{ type: "text", text: "again" }]);
    const closing = gw.close();
    // The same kept-alive connection, after the run: refused (or closed), never answered.
    const after = await post(url, "/v1/chat/completions", chat, { authorization: `Bearer ${TOKEN}` }, keepAlive).catch(
      (e: Error) => ({ status: 0, text: e.message }),
    );
    expect([0, 401]).toContain(after.status);
    await closing;
    await expect(post(url, "/v1/chat/completions", chat, { authorization: `Bearer ${TOKEN}` })).rejects.toThrow(
      /ECONNREFUSED/,
    );
    keepAlive.destroy();
  });

  it("meters each call against the hold (worst case first, settled to the bill) and records it", async () => {
    const { url, ledger, hold, events, calls } = await setup();
    const r = await post(
      url,
      "/v1/responses",
      { model: "x", input: "hi", stream: true },
      { authorization: `Bearer ${TOKEN}` },
    );
    expect(r.status).toBe(200);
    expect(r.text).toContain("event: response.output_text.delta");
    expect(r.text).toContain("event: response.completed");
    const call = events.find((e) => e.type === "model_call") as Extract<RunEvent, { type: "model_call" }>;
    expect(call.costUsd).toBeGreaterThan(0);
    expect(ledger.chargedOn(hold.id, "usd")).toBeCloseTo(call.costUsd, 12); // the worst case went back
    expect(calls.trajectory[0]!.data).toMatchObject({ protocol: "responses", content: "hello there" });
  });

  it("refuses a call the hold cannot pay with 402 and stops the run as budget_exhausted", async () => {
    const { url, stops, ledger, hold, server } = await setup(0.00001);
    const big = { model: "x", messages: [{ role: "user", content: "word ".repeat(200) }] };
    const r = await post(url, "/v1/chat/completions", big, { authorization: `Bearer ${TOKEN}` });
    expect(r.status).toBe(402);
    expect(JSON.parse(r.text).error).toMatchObject({ code: "insufficient_quota" });
    expect(JSON.parse(r.text).error.message).toMatch(/budget cannot pay/);
    expect(stops.map((s) => s[0])).toEqual(["budget_exhausted"]);
    expect(ledger.chargedOn(hold.id, "usd")).toBe(0); // nothing was sent, nothing kept
    const sent = await (await fetch(server.url.replace(/\/v1$/, "/_replay/requests"))).json();
    expect(sent).toHaveLength(0);
  });

  it("serves one call at a time and refuses a flood (429) instead of queueing it without bound", async () => {
    const { url, server } = await setup(0.25, [{ say: "slow", delayMs: 300 }] as never);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const answers = await Promise.all(Array.from({ length: 12 }, () => post(url, "/v1/chat/completions", chat, auth)));
    const codes = answers.map((a) => a.status).sort();
    expect(codes.filter((c) => c === 200)).toHaveLength(8); // one in flight + 7 waiting
    expect(codes.filter((c) => c === 429)).toHaveLength(4);
    const sent = await (await fetch(server.url.replace(/\/v1$/, "/_replay/requests"))).json();
    expect(sent).toHaveLength(8);
  });

  it("answers malformed and oversized requests with 400 and 413, and unknown routes with 404", async () => {
    const { url } = await setup();
    const auth = { authorization: `Bearer ${TOKEN}` };
    const bad = await post(url, "/v1/chat/completions", "{not json", auth);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).error.message).toMatch(/bad request/);
    expect((await post(url, "/v1/responses", { input: 5 }, auth)).status).toBe(400);
    const huge = await post(url, "/v1/chat/completions", "x".repeat(33 * 2 ** 20), auth);
    expect(huge.status).toBe(413);
    // 40 MB (declared up front): answered 413, never a reset while the client is still sending.
    const bigger = await post(url, "/v1/chat/completions", "x".repeat(40 * 2 ** 20), auth);
    expect(bigger.status).toBe(413);
    expect(JSON.parse(bigger.text).error.message).toContain("is over");
    expect((await post(url, "/v1/embeddings", {}, auth)).status).toBe(404);
  });

  it("passes a request through with its text redacted (tool inputs too) and ids and encrypted reasoning untouched", async () => {
    const server = await replay({ model: "gpt-4o", turns: [{ say: "ok" }] });
    const secret = "sk-live-9f8E7d6C5b4A3f2E1d0C9b8A7f6E5d4C";
    const blob = "gAAAAABo" + "x9".repeat(200);
    const chunks: string[] = [];
    const passed = await passThrough({
      spec: { ...endpoint(server).spec, api: "messages" },
      env: {},
      protocol: "messages",
      body: {
        model: "claude-x",
        max_tokens: 9999,
        stream: true,
        messages: [
          { role: "user", content: `the key is ${secret}` },
          {
            role: "assistant",
            content: [{ type: "tool_use", id: "toolu_01", name: "Bash", input: { command: `echo ${secret}` } }],
          },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01", content: secret }] },
          { role: "assistant", content: [{ type: "thinking", thinking: "hm", signature: blob }] },
        ],
      },
      maxTokens: 300,
      conversationId: "c1",
      signal: new AbortController().signal,
      redact: (t) => redact(t).text,
      sink: { start: () => {}, write: (c) => chunks.push(c) },
    });
    expect(passed.status).toBe(200);
    expect(passed.usage!.completionTokens).toBeGreaterThan(0);
    expect(passed.text).toBe("ok");
    expect(chunks.join("")).toContain("event: message_stop");
    const [sent] = server.requests as Record<string, any>[];
    expect(sent!.model).toBe("gpt-4o");
    expect(sent!.max_tokens).toBe(300);
    expect(JSON.stringify(sent)).not.toContain(secret);
    expect(sent!.messages[1].content[0]).toMatchObject({ id: "toolu_01", name: "Bash" });
    expect(sent!.messages[1].content[0].input.command).toContain("[REDACTED");
    expect(sent!.messages[3].content[0].signature).toBe(blob);
  });
});
