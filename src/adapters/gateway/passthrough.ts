/**
 * An agent's own protocol passed through to an endpoint that speaks it natively (`api: responses`
 * or `api: messages`): the request goes unchanged but for the model, the token limit the hold can
 * pay and (hosted tiers) redacted text; the answer comes back unchanged, streamed as it arrives,
 * and its usage is read off it for the bill. Nothing is lost in translation (reasoning items,
 * cache controls), at the price of the endpoint adapter's retries and failover.
 */
import type { EndpointSpec } from "../../core/ports.js";
import type { Usage } from "../../core/models.js";
import type { RawSink } from "../../core/protocols/call.js";

export interface Passed {
  status: number;
  /** What the endpoint reported it used; undefined when the answer never said (a broken stream). */
  usage: Usage | undefined;
  /** The answer's text, for the trajectory. */
  text: string;
}

/** What is kept of an answer for reading its usage and text. */
const LIMIT = 4 * 2 ** 20;

/** Keys under which the conversation's text lies; what lies under them is redacted, but for STRUCTURAL keys. */
const TEXT_KEYS = new Set(["text", "content", "output", "instructions", "system", "arguments", "input", "messages"]);
const STRUCTURAL = new Set([
  "type",
  "id",
  "role",
  "name",
  "call_id",
  "tool_use_id",
  "status",
  "encrypted_content",
  "signature",
  "cache_control",
]);

export async function passThrough(o: {
  spec: EndpointSpec;
  env: NodeJS.ProcessEnv;
  protocol: "responses" | "messages";
  body: Record<string, unknown>;
  maxTokens: number;
  conversationId: string;
  signal: AbortSignal;
  redact?: ((text: string) => string) | undefined;
  sink: RawSink;
}): Promise<Passed> {
  const body = o.redact ? (scrub(o.body, o.redact) as Record<string, unknown>) : { ...o.body };
  body.model = o.spec.model;
  body[o.protocol === "responses" ? "max_output_tokens" : "max_tokens"] = o.maxTokens;
  const key = o.spec.apiKeyEnv ? o.env[o.spec.apiKeyEnv] : undefined;
  const auth: Record<string, string> =
    o.protocol === "responses"
      ? key
        ? { authorization: `Bearer ${key}` }
        : {}
      : { "anthropic-version": "2023-06-01", ...(key ? { "x-api-key": key } : {}) };
  const res = await fetch(`${o.spec.baseURL.replace(/\/$/, "")}/${o.protocol}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-lanes-conversation": o.conversationId, ...auth },
    body: JSON.stringify(body),
    signal: AbortSignal.any([o.signal, AbortSignal.timeout(o.spec.timeoutMs)]),
  });
  o.sink.start(res.status, res.headers.get("content-type") ?? "application/json");
  const read = usageReader(o.protocol);
  const decoder = new TextDecoder();
  for await (const bytes of res.body ?? []) {
    const chunk = decoder.decode(bytes as Uint8Array, { stream: true });
    o.sink.write(chunk);
    read.feed(chunk);
  }
  read.end();
  return { status: res.status, usage: res.ok ? read.usage() : undefined, text: read.text() };
}

/** Usage and text read off an answer, whole JSON or server-sent events. */
function usageReader(protocol: "responses" | "messages") {
  let buffered = "";
  let whole = "";
  let usage: Usage | undefined;
  let text = "";
  const take = (d: Record<string, any>) => {
    if (protocol === "responses") {
      const u =
        (d.type === "response.completed" || d.type === "response.incomplete" ? d.response?.usage : undefined) ??
        (d.object === "response" ? d.usage : undefined);
      if (u)
        usage = {
          promptTokens: u.input_tokens ?? 0,
          completionTokens: u.output_tokens ?? 0,
          cachedTokens: u.input_tokens_details?.cached_tokens ?? 0,
          estimated: false,
        };
      if (d.type === "response.output_text.delta") text += String(d.delta ?? "");
      if (d.object === "response")
        text = (d.output ?? [])
          .flatMap((i: any) => i.content ?? [])
          .map((p: any) => p.text ?? "")
          .join("");
      return;
    }
    // message_start carries the input's usage, message_delta the output's (cumulative) and, in
    // newer API versions, the input's again: the last figure of each wins.
    const u =
      d.type === "message_start"
        ? d.message?.usage
        : d.type === "message" || d.type === "message_delta"
          ? d.usage
          : undefined;
    if (u) {
      usage ??= { promptTokens: 0, completionTokens: 0, cachedTokens: 0, estimated: false };
      if (u.input_tokens !== undefined) {
        const cached = u.cache_read_input_tokens ?? 0;
        usage.promptTokens = u.input_tokens + cached + (u.cache_creation_input_tokens ?? 0);
        usage.cachedTokens = cached;
      }
      if (u.output_tokens !== undefined) usage.completionTokens = u.output_tokens;
    }
    if (d.type === "content_block_delta" && d.delta?.type === "text_delta") text += String(d.delta.text ?? "");
    if (d.type === "message") text = (d.content ?? []).map((b: any) => b.text ?? "").join("");
  };
  const event = (block: string) => {
    const data = block
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).trim())
      .join("\n");
    if (!data || data === "[DONE]") return;
    try {
      take(JSON.parse(data) as Record<string, unknown>);
    } catch {
      /* not JSON: passed on as it came, nothing to read */
    }
  };
  return {
    feed(chunk: string) {
      whole = whole.length < LIMIT ? whole + chunk : whole;
      buffered += chunk.replace(/\r\n/g, "\n");
      let at: number;
      while ((at = buffered.indexOf("\n\n")) >= 0) {
        event(buffered.slice(0, at));
        buffered = buffered.slice(at + 2);
      }
      // Memory stays bounded whatever the endpoint sends: no event is this long (a whole JSON
      // answer is read from `whole`, itself capped).
      if (buffered.length > LIMIT) buffered = "";
      if (text.length > LIMIT) text = text.slice(0, LIMIT);
    },
    end() {
      if (buffered.trim().startsWith("data:") || buffered.trim().startsWith("event:")) event(buffered);
      else if (!usage) {
        try {
          take(JSON.parse(whole) as Record<string, unknown>);
        } catch {
          /* an answer that is neither: no usage */
        }
      }
    },
    usage: () => usage,
    text: () => text,
  };
}

/**
 * The body with every conversation text redacted: everything under a text key (the tool calls'
 * arguments and inputs too), but never an id, a type or encrypted reasoning.
 */
function scrub(v: unknown, redact: (s: string) => string, inText = false, key = ""): unknown {
  if (typeof v === "string") return (inText || TEXT_KEYS.has(key)) && !STRUCTURAL.has(key) ? redact(v) : v;
  if (Array.isArray(v)) return v.map((x) => scrub(x, redact, inText, key));
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrub(x, redact, inText || TEXT_KEYS.has(k), k)]));
  return v;
}
