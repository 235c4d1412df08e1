/**
 * The gateway's HTTP face: OpenAI Chat Completions (/v1/chat/completions), OpenAI Responses
 * (/v1/responses) and Anthropic Messages (/v1/messages), streamed or not, on a loopback port of
 * this machine. Every request must carry the run's token (Bearer or x-api-key); once the run has
 * ended the token is refused even on a connection still open. The sandbox reaches this port only
 * through its tunnel (src/adapters/docker/tunnel.ts); the endpoint's real key stays in this process.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";
import { createGunzip, createInflate, createBrotliDecompress } from "node:zlib";
import type { AddressInfo } from "node:net";
import type { Readable } from "node:stream";
import {
  BadRequest,
  type Answerer,
  type CallIo,
  type CallResult,
  type GatewayCall,
  type RawSink,
} from "../../core/protocols/call.js";
import { chatAnswerer, chatRequest } from "../../core/protocols/chat.js";
import { responsesAnswerer, responsesRequest } from "../../core/protocols/responses.js";
import { messagesAnswerer, messagesRequest } from "../../core/protocols/anthropic.js";

const PROTOCOLS: Record<string, { parse: (b: unknown) => GatewayCall; answer: (model: string) => Answerer }> = {
  "/chat/completions": { parse: chatRequest, answer: chatAnswerer },
  "/responses": { parse: responsesRequest, answer: responsesAnswerer },
  "/messages": { parse: messagesRequest, answer: messagesAnswerer },
};

export interface GatewayHandlers {
  call(c: GatewayCall, protocol: string, io?: CallIo): Promise<CallResult>;
  /** Anthropic's count_tokens: the prompt's tokens as the lane's endpoint counts them. */
  countTokens(c: GatewayCall): Promise<number>;
}

export interface Gateway {
  port: number;
  /** Refuse the token from now on and stop listening. */
  close(): Promise<void>;
}

export const MAX_BODY_BYTES = 32 * 2 ** 20;

export async function startGateway(token: string, h: GatewayHandlers, host = "127.0.0.1"): Promise<Gateway> {
  let revoked = false;
  const expected = Buffer.from(token);
  const authorized = (req: IncomingMessage) => {
    const auth = req.headers.authorization;
    const given = Buffer.from(
      (auth?.startsWith("Bearer ") ? auth.slice(7) : undefined) ?? String(req.headers["x-api-key"] ?? ""),
    );
    return !revoked && given.length === expected.length && timingSafeEqual(given, expected);
  };
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: Error) => {
      if (!res.headersSent) send(res, 500, { error: { message: `lanes gateway: ${err.message}` } });
      else res.end();
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://gateway").pathname.replace(/^\/v1(?=\/)/, "").replace(/\/$/, "");
    const proto = PROTOCOLS[path === "/messages/count_tokens" ? "/messages" : path];
    if (!authorized(req)) {
      req.resume();
      const a = (proto ?? PROTOCOLS["/chat/completions"]!).answer("");
      return send(res, 401, a.error(401, "lanes: this token is not valid (or its run has ended)"));
    }
    if (req.method === "GET" && path === "/models")
      return send(res, 200, { object: "list", data: [{ id: "lanes", object: "model", owned_by: "lanes" }] });
    if (req.method !== "POST" || !proto)
      return send(res, 404, {
        error: { message: `lanes gateway: no route ${req.method} ${req.url}`, type: "not_found" },
      });
    const a0 = proto.answer("");
    let call: GatewayCall;
    try {
      // A declared size over the limit is refused before a byte of the body is read.
      const declared = Number(req.headers["content-length"] ?? 0);
      const text = declared > MAX_BODY_BYTES ? null : await readBody(req);
      if (text === null) {
        // Discard what is still coming, then answer: a client still sending when the socket
        // closes sees a reset, not the 413. At most 10 s of it, then the connection is dropped.
        res.setHeader("connection", "close");
        req.resume();
        const drained = await Promise.race([
          new Promise<boolean>((r) => req.once("end", () => r(true))),
          new Promise<boolean>((r) => setTimeout(() => r(false), 10_000).unref()),
        ]);
        send(res, 413, a0.error(413, `lanes: the request is over ${MAX_BODY_BYTES} bytes`));
        if (!drained) req.destroy();
        return;
      }
      const raw = JSON.parse(text) as unknown;
      call = { ...proto.parse(raw), raw: raw as Record<string, unknown> };
    } catch (err) {
      const why = err instanceof BadRequest || err instanceof SyntaxError ? err.message : String(err);
      return send(res, 400, a0.error(400, `lanes: bad request: ${why}`));
    }
    if (path === "/messages/count_tokens") return send(res, 200, { input_tokens: await h.countTokens(call) });
    const a = proto.answer(call.model || "lanes");
    const name = path.slice(1);
    // A passed-through call's answer is the endpoint's own, written as it comes.
    const raw: RawSink = {
      start: (status, type) => res.writeHead(status, { "content-type": type, "cache-control": "no-cache" }),
      write: (chunk) => res.write(chunk),
    };
    if (!call.stream) {
      const r = await h.call(call, name, { raw });
      if (r.ok && "passed" in r) return void res.end();
      return r.ok ? send(res, 200, a.body(r.completion)) : sendError(res, r.status, a.error(r.status, r.message));
    }
    // Headers wait for the first text or the result, so a refusal is still an HTTP error status.
    let streamed = "";
    const begin = () => {
      if (res.headersSent) return;
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        connection: "keep-alive",
      });
      res.write(a.open());
    };
    const onDelta = (text: string) => {
      begin();
      streamed += text;
      res.write(a.delta(text));
    };
    const r = await h.call(call, name, { onDelta, raw });
    if (r.ok && "passed" in r) return void res.end();
    if (!r.ok && !res.headersSent) return send(res, r.status, a.error(r.status, r.message));
    begin();
    res.end(r.ok ? a.close(r.completion, streamed) : a.fail(r.message));
  }
  // One agent's connections: bounded, as each may carry a body of up to MAX_BODY_BYTES.
  server.maxConnections = 32;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        revoked = true;
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      }),
  };
}

/** An error after a passed-through answer began cannot change its status: the stream just ends. */
function sendError(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  send(res, status, body);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** The body as text, decompressed; null when it is over the limit (read no further). */
async function readBody(req: IncomingMessage): Promise<string | null> {
  const enc = String(req.headers["content-encoding"] ?? "identity");
  const decoders: Record<string, () => NodeJS.ReadWriteStream> = {
    gzip: createGunzip,
    deflate: createInflate,
    br: createBrotliDecompress,
  };
  if (enc !== "identity" && !decoders[enc]) throw new BadRequest(`content-encoding ${enc} is not supported`);
  const src: Readable = enc === "identity" ? req : (req.pipe(decoders[enc]!()) as unknown as Readable);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      // Over the limit: keep nothing more (the caller answers 413 and drains the rest).
      src.off("data", onData);
      resolve(null);
    };
    src.on("data", onData);
    src.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    src.on("error", reject);
  });
}
