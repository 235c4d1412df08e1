/** OpenAI Chat Completions, as the gateway receives and answers it. */
import type { Completion, Message } from "../models.js";
import {
  arr,
  BadRequest,
  callsOf,
  functionTools,
  newId,
  obj,
  optInt,
  optNum,
  sse,
  textOf,
  type Answerer,
  type GatewayCall,
} from "./call.js";

export function chatRequest(body: unknown): GatewayCall {
  const b = obj(body, "the request body");
  const messages: Message[] = arr(b.messages, "messages").map((raw, i) => {
    const m = obj(raw, `messages[${i}]`);
    const role = m.role === "developer" ? "system" : m.role;
    if (role !== "system" && role !== "user" && role !== "assistant" && role !== "tool")
      throw new BadRequest(`messages[${i}].role must be system, developer, user, assistant or tool`);
    const calls = Array.isArray(m.tool_calls)
      ? m.tool_calls.map((c) => {
          const call = obj(c, `messages[${i}].tool_calls[]`);
          const f = obj(call.function, `messages[${i}].tool_calls[].function`);
          return { id: String(call.id ?? ""), name: String(f.name ?? ""), arguments: String(f.arguments ?? "") };
        })
      : [];
    return {
      role,
      content: m.content == null ? null : textOf(m.content),
      ...(calls.length ? { toolCalls: calls } : {}),
      ...(typeof m.tool_call_id === "string" ? { toolCallId: m.tool_call_id } : {}),
    };
  });
  const tools = functionTools(b.tools, (t) =>
    t.type === "function" ? obj(t.function, "tools[].function") : undefined,
  );
  return {
    model: String(b.model ?? ""),
    messages,
    tools,
    maxTokens: optInt(b.max_completion_tokens ?? b.max_tokens, "max_tokens"),
    temperature: optNum(b.temperature),
    stream: b.stream === true,
  };
}

export function chatAnswerer(model: string): Answerer {
  const id = newId("chatcmpl-");
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra = {}) =>
    sse({
      id,
      object: "chat.completion.chunk",
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
      ...extra,
    });
  const usage = (c: Completion) => ({
    prompt_tokens: c.usage.promptTokens,
    completion_tokens: c.usage.completionTokens,
    total_tokens: c.usage.promptTokens + c.usage.completionTokens,
    prompt_tokens_details: { cached_tokens: c.usage.cachedTokens },
  });
  const toolCalls = (c: Completion) =>
    callsOf(c).map((t) => ({ id: t.id, type: "function", function: { name: t.name, arguments: t.arguments } }));
  return {
    body: (c) => ({
      id,
      object: "chat.completion",
      created,
      model,
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: c.content || null,
            ...(callsOf(c).length ? { tool_calls: toolCalls(c) } : {}),
          },
          finish_reason: c.finishReason,
        },
      ],
      usage: usage(c),
    }),
    open: () => chunk({ role: "assistant", content: "" }),
    delta: (text) => chunk({ content: text }),
    close: (c, streamed) => {
      let out = "";
      // Text that arrived without streaming (a retried or translated call) is sent whole.
      if (c.content.length > streamed.length && c.content.startsWith(streamed))
        out += chunk({ content: c.content.slice(streamed.length) });
      const calls = toolCalls(c);
      if (calls.length) out += chunk({ tool_calls: calls.map((t, index) => ({ index, ...t })) });
      out += chunk({}, c.finishReason);
      out += sse({ id, object: "chat.completion.chunk", created, model, choices: [], usage: usage(c) });
      return `${out}data: [DONE]\n\n`;
    },
    fail: (message) => `${sse({ error: { message, type: "lanes_gateway" } })}data: [DONE]\n\n`,
    error: (status, message) => ({ error: { message, type: errorType(status), code: errorType(status) } }),
  };
}

/** OpenAI's error types, by status: a client that knows them (retry or not) behaves right. */
export function errorType(status: number): string {
  if (status === 401) return "invalid_api_key";
  if (status === 402) return "insufficient_quota";
  if (status === 429) return "rate_limit_exceeded";
  if (status === 413 || status === 400) return "invalid_request_error";
  return "server_error";
}
