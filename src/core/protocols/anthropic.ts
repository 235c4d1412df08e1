/** Anthropic's Messages API (what Claude Code speaks), translated to and from chat messages. */
import type { Completion, Message } from "../models.js";
import {
  argsOf,
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

export function messagesRequest(body: unknown): GatewayCall {
  const b = obj(body, "the request body");
  const messages: Message[] = [];
  const system = textOf(b.system ?? "");
  if (system) messages.push({ role: "system", content: system });
  for (const [i, raw] of arr(b.messages, "messages").entries()) {
    const m = obj(raw, `messages[${i}]`);
    // Anthropic's API takes only user and assistant here; a system message is read leniently as one.
    if (m.role === "system") {
      messages.push({ role: "system", content: textOf(m.content) });
      continue;
    }
    if (m.role !== "user" && m.role !== "assistant")
      throw new BadRequest(`messages[${i}].role must be user or assistant, not ${JSON.stringify(m.role)}`);
    if (typeof m.content === "string") {
      messages.push({ role: m.role, content: m.content });
      continue;
    }
    const blocks = arr(m.content, `messages[${i}].content`).map((x) => obj(x, `messages[${i}].content[]`));
    // Tool results first (chat wants them right after the call), then the rest as one message.
    for (const r of blocks.filter((x) => x.type === "tool_result"))
      messages.push({
        role: "tool",
        toolCallId: String(r.tool_use_id ?? ""),
        content: (r.is_error ? "error: " : "") + textOf(r.content ?? ""),
      });
    const text = blocks
      .filter((x) => x.type !== "tool_result" && x.type !== "tool_use" && x.type !== "thinking")
      .map((x) => (typeof x.text === "string" ? x.text : `[${String(x.type)} omitted by the lanes gateway]`))
      .join("");
    const calls = blocks
      .filter((x) => x.type === "tool_use")
      .map((x) => ({ id: String(x.id ?? ""), name: String(x.name ?? ""), arguments: JSON.stringify(x.input ?? {}) }));
    if (text || calls.length)
      messages.push({ role: m.role, content: text || null, ...(calls.length ? { toolCalls: calls } : {}) });
  }
  const tools = functionTools(b.tools, (t) =>
    t.input_schema !== undefined ? { ...t, parameters: t.input_schema } : undefined,
  );
  return {
    model: String(b.model ?? ""),
    messages,
    tools,
    maxTokens: optInt(b.max_tokens, "max_tokens"),
    temperature: optNum(b.temperature),
    stream: b.stream === true,
  };
}

function stopReason(c: Completion): string {
  if (callsOf(c).length) return "tool_use";
  return c.finishReason === "length" ? "max_tokens" : "end_turn";
}

export function messagesAnswerer(model: string): Answerer {
  const id = newId("msg_");
  const usage = (c: Completion) => ({
    input_tokens: c.usage.promptTokens - c.usage.cachedTokens,
    cache_read_input_tokens: c.usage.cachedTokens,
    output_tokens: c.usage.completionTokens,
  });
  let textOpen = false;
  let index = 0;
  const openText = () => {
    if (textOpen) return "";
    textOpen = true;
    return sse(
      { type: "content_block_start", index, content_block: { type: "text", text: "" } },
      "content_block_start",
    );
  };
  const textDelta = (text: string) =>
    openText() +
    sse({ type: "content_block_delta", index, delta: { type: "text_delta", text } }, "content_block_delta");
  return {
    body: (c) => ({
      id,
      type: "message",
      role: "assistant",
      model,
      content: [
        ...(c.content ? [{ type: "text", text: c.content }] : []),
        ...callsOf(c).map((t) => ({ type: "tool_use", id: t.id, name: t.name, input: argsOf(t) })),
      ],
      stop_reason: stopReason(c),
      stop_sequence: null,
      usage: usage(c),
    }),
    open: () =>
      sse(
        {
          type: "message_start",
          message: {
            id,
            type: "message",
            role: "assistant",
            model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: 0, output_tokens: 0 },
          },
        },
        "message_start",
      ),
    delta: textDelta,
    close: (c, streamed) => {
      let out = "";
      const rest = c.content.startsWith(streamed) ? c.content.slice(streamed.length) : "";
      if (rest) out += textDelta(rest);
      if (textOpen) out += sse({ type: "content_block_stop", index: index++ }, "content_block_stop");
      for (const t of callsOf(c)) {
        out += sse(
          {
            type: "content_block_start",
            index,
            content_block: { type: "tool_use", id: t.id, name: t.name, input: {} },
          },
          "content_block_start",
        );
        out += sse(
          {
            type: "content_block_delta",
            index,
            delta: { type: "input_json_delta", partial_json: JSON.stringify(argsOf(t)) },
          },
          "content_block_delta",
        );
        out += sse({ type: "content_block_stop", index: index++ }, "content_block_stop");
      }
      out += sse(
        { type: "message_delta", delta: { stop_reason: stopReason(c), stop_sequence: null }, usage: usage(c) },
        "message_delta",
      );
      return out + sse({ type: "message_stop" }, "message_stop");
    },
    fail: (message) => sse({ type: "error", error: { type: "api_error", message } }, "error"),
    error: (status, message) => ({ type: "error", error: { type: anthropicType(status), message } }),
  };
}

function anthropicType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 402) return "billing_error";
  if (status === 429) return "rate_limit_error";
  if (status === 400 || status === 413) return "invalid_request_error";
  return "api_error";
}
