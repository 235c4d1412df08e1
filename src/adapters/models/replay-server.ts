/**
 * An OpenAI-compatible chat-completions server (node:http) that replays a script: each request
 * gets the next turn — text, tool calls, usage — streamed or not, or the turn's fault (429 with
 * Retry-After, 500, a stream cut half-way, a slow first token, malformed tool-call JSON). It backs
 * the tests and the demo, and `lanes endpoints replay FILE` serves it by hand. It records what it
 * received (GET /_replay/requests) so tests can see exactly what lanes sent. The same turns are
 * also served over OpenAI Responses (/v1/responses) and Anthropic Messages (/v1/messages), for
 * endpoints that speak those (the gateway passes an agent's own protocol through to them).
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Completion, Message } from "../../core/models.js";
import type { Answerer, GatewayCall } from "../../core/protocols/call.js";
import { responsesAnswerer, responsesRequest } from "../../core/protocols/responses.js";
import { messagesAnswerer, messagesRequest } from "../../core/protocols/anthropic.js";
import type { ReplayScript, ReplayTurn } from "./replay-script.js";
import { countChatTokens, countText } from "./tokens.js";

export interface ReplayServer {
  url: string;
  port: number;
  /** Request bodies in arrival order (headers are not kept: they carry the API key). */
  requests: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startReplayServer(
  script: ReplayScript,
  opts: { port?: number; host?: string } = {},
): Promise<ReplayServer> {
  const requests: Record<string, unknown>[] = [];
  // Each conversation walks the script on its own, so parallel runs (a batch) replay correctly.
  // A conversation is named by lanes' x-lanes-conversation header, else by its first messages.
  const cursors = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err) => {
      if (!res.headersSent) json(res, 500, { error: { message: String(err), type: "replay_error" } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://replay");
    if (req.method === "GET" && url.pathname === "/_replay/requests") return json(res, 200, requests);
    if (req.method === "GET" && (url.pathname === "/health" || url.pathname === "/v1/health"))
      return json(res, 200, { status: "ok" });
    if (req.method === "GET" && url.pathname === "/v1/models")
      return json(res, 200, {
        object: "list",
        data: [{ id: script.model, object: "model", owned_by: "lanes-replay" }],
      });
    const native = NATIVE[url.pathname];
    if (req.method !== "POST" || (url.pathname !== "/v1/chat/completions" && !native))
      return json(res, 404, { error: { message: `no route ${req.method} ${url.pathname}`, type: "not_found" } });
    const body = JSON.parse(await readBody(req)) as {
      messages?: unknown[];
      stream?: boolean;
      stream_options?: { include_usage?: boolean };
      max_tokens?: number;
      max_completion_tokens?: number;
    };
    requests.push({ ...body, conversation: req.headers["x-lanes-conversation"] ?? null, path: url.pathname });
    // OpenAI Responses and Anthropic Messages are answered natively, from the same turns.
    const messages = native ? native.parse(body).messages : (body.messages as Message[] | undefined);
    const key = String(
      req.headers["x-lanes-conversation"] ??
        createHash("sha1")
          .update(JSON.stringify((messages ?? []).slice(0, 2)))
          .digest("hex"),
    );
    const next = cursors.get(key) ?? 0;
    cursors.set(key, next + 1);
    const turn =
      next < script.turns.length
        ? script.turns[next]
        : script.repeatLast
          ? script.turns[script.turns.length - 1]
          : undefined;
    if (!turn)
      return json(res, 500, {
        error: { message: `replay script exhausted after ${script.turns.length} turns`, type: "replay_exhausted" },
      });
    if (turn.delayMs) await new Promise((r) => setTimeout(r, turn.delayMs));
    if (turn.fault === "rate_limit") {
      res.setHeader("retry-after", String(turn.retryAfter ?? 1));
      return json(res, 429, {
        error: { message: "Rate limit reached (replay)", type: "rate_limit_exceeded", code: "rate_limit_exceeded" },
      });
    }
    if (turn.fault === "server_error")
      return json(res, 500, { error: { message: "The server had an error (replay)", type: "server_error" } });
    const reply = await build(script, turn, messages);
    if (native) return answerNatively(res, native.answer(script.model), reply, body.stream === true);
    if (body.stream) return stream(res, script, turn, reply, body.stream_options?.include_usage === true);
    json(res, 200, {
      id: reply.id,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: script.model,
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: reply.content,
            ...(reply.calls.length
              ? {
                  tool_calls: reply.calls.map((c) => ({
                    id: c.id,
                    type: "function",
                    function: { name: c.name, arguments: c.arguments },
                  })),
                }
              : {}),
          },
          finish_reason: reply.finish,
        },
      ],
      usage: reply.usage,
      ...(script.timings ? { timings: reply.timings } : {}),
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${port}/v1`,
    port,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Reply {
  id: string;
  content: string;
  calls: { id: string; name: string; arguments: string }[];
  finish: string;
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details: { cached_tokens: number };
  };
  timings: {
    prompt_ms: number;
    predicted_ms: number;
    prompt_per_second: number;
    predicted_per_second: number;
    prompt_n: number;
    predicted_n: number;
  };
}

const NATIVE: Record<string, { parse: (b: unknown) => GatewayCall; answer: (model: string) => Answerer }> = {
  "/v1/responses": { parse: responsesRequest, answer: responsesAnswerer },
  "/v1/messages": { parse: messagesRequest, answer: messagesAnswerer },
};

let counter = 0;
async function build(script: ReplayScript, turn: ReplayTurn, messages: Message[] | undefined): Promise<Reply> {
  const calls = (turn.tools ?? []).map((t, i) => {
    const [name, args] = Object.entries(t)[0]!;
    return { id: `call_${++counter}_${i}`, name, arguments: typeof args === "string" ? args : JSON.stringify(args) };
  });
  const content = turn.say ?? "";
  // Usage as a real server would report it: counted with the o200k encoding.
  const prompt =
    turn.usage?.prompt_tokens ??
    (
      await countChatTokens(
        "gpt-4o",
        (messages ?? []).map((m) => ({
          role: m.role,
          content: typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? ""),
        })),
      )
    ).tokens;
  const completion =
    turn.usage?.completion_tokens ??
    (await countText("gpt-4o", content + calls.map((c) => c.name + c.arguments).join(""))).tokens;
  return {
    id: `chatcmpl-replay-${counter++}`,
    content,
    calls,
    finish: turn.finishReason ?? (calls.length ? "tool_calls" : "stop"),
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: turn.usage?.cached_tokens ?? 0 },
    },
    timings: {
      prompt_ms: prompt * 0.5,
      predicted_ms: completion * 20,
      prompt_per_second: 2000,
      predicted_per_second: 50,
      prompt_n: prompt,
      predicted_n: completion,
    },
  };
}

function stream(res: ServerResponse, script: ReplayScript, turn: ReplayTurn, r: Reply, includeUsage: boolean): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const base = {
    id: r.id,
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model: script.model,
  };
  const chunks: unknown[] = [
    { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] },
  ];
  for (const piece of split(r.content))
    chunks.push({ ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
  r.calls.forEach((c, index) => {
    const half = Math.ceil(c.arguments.length / 2);
    chunks.push({
      ...base,
      choices: [
        {
          index: 0,
          delta: {
            tool_calls: [
              { index, id: c.id, type: "function", function: { name: c.name, arguments: c.arguments.slice(0, half) } },
            ],
          },
          finish_reason: null,
        },
      ],
    });
    chunks.push({
      ...base,
      choices: [
        {
          index: 0,
          delta: { tool_calls: [{ index, function: { arguments: c.arguments.slice(half) } }] },
          finish_reason: null,
        },
      ],
    });
  });
  chunks.push({
    ...base,
    choices: [{ index: 0, delta: {}, finish_reason: r.finish }],
    ...(script.timings ? { timings: r.timings } : {}),
  });
  if (includeUsage) chunks.push({ ...base, choices: [], usage: r.usage });
  const cutAt = turn.fault === "cut" ? Math.max(1, Math.floor(chunks.length / 2)) : Infinity;
  chunks.forEach((c, i) => {
    if (i < cutAt) res.write(`data: ${JSON.stringify(c)}\n\n`);
  });
  if (cutAt !== Infinity) {
    // The stream breaks once the first half is on its way: no usage, no [DONE].
    setTimeout(() => res.socket?.destroy(), 50);
    return;
  }
  res.end("data: [DONE]\n\n");
}

/** A replayed turn in another protocol's shape (the gateway's own answerers write it). */
function answerNatively(res: ServerResponse, a: Answerer, r: Reply, streamed: boolean): void {
  const c: Completion = {
    endpointId: "replay",
    model: "replay",
    content: r.content,
    toolCalls: r.calls,
    malformedToolCalls: [],
    finishReason: r.finish,
    usage: {
      promptTokens: r.usage.prompt_tokens,
      completionTokens: r.usage.completion_tokens,
      cachedTokens: r.usage.prompt_tokens_details.cached_tokens,
      estimated: false,
    },
    latencyMs: 0,
    costUsd: 0,
  };
  if (!streamed) return json(res, 200, a.body(c));
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.end(
    a.open() +
      split(c.content)
        .map((t) => a.delta(t))
        .join("") +
      a.close(c, c.content),
  );
}

function split(text: string): string[] {
  if (!text) return [];
  const size = Math.max(1, Math.ceil(text.length / 3));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (data += d));
    req.on("end", () => resolve(data));
    req.on("error", reject);
  });
}
