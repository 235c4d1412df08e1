/**
 * OpenAI's Responses API (what Codex CLI speaks to a custom provider), translated to and from
 * chat messages. Function tools pass through; the client's other tool types (web search,
 * namespaces of sub-agent tools) have no chat equivalent and are not offered to the model.
 */
import type { Completion, Message } from "../models.js";
import { errorType } from "./chat.js";
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

export function responsesRequest(body: unknown): GatewayCall {
  const b = obj(body, "the request body");
  const messages: Message[] = [];
  if (typeof b.instructions === "string" && b.instructions) messages.push({ role: "system", content: b.instructions });
  const input =
    typeof b.input === "string" ? [{ type: "message", role: "user", content: b.input }] : arr(b.input, "input");
  for (const [i, raw] of input.entries()) {
    const item = obj(raw, `input[${i}]`);
    const type = item.type ?? (item.role ? "message" : undefined);
    if (type === "message") {
      const role = item.role === "developer" ? "system" : item.role;
      if (role !== "system" && role !== "user" && role !== "assistant")
        throw new BadRequest(`input[${i}].role must be system, developer, user or assistant`);
      messages.push({ role, content: textOf(item.content) });
    } else if (type === "function_call") {
      const call = {
        id: String(item.call_id ?? item.id ?? ""),
        name: String(item.name ?? ""),
        arguments: String(item.arguments ?? ""),
      };
      const last = messages.at(-1);
      // Parallel calls are one assistant turn in chat: consecutive calls join the same message.
      if (last?.role === "assistant" && last.toolCalls) last.toolCalls.push(call);
      else if (last?.role === "assistant" && !last.toolCalls) last.toolCalls = [call];
      else messages.push({ role: "assistant", content: null, toolCalls: [call] });
    } else if (type === "function_call_output") {
      messages.push({ role: "tool", toolCallId: String(item.call_id ?? ""), content: textOf(item.output) });
    }
    // reasoning items and calls of other tool types have no chat form: left out
  }
  const tools = functionTools(b.tools, (t) => (t.type === "function" ? t : undefined));
  return {
    model: String(b.model ?? ""),
    messages,
    tools,
    maxTokens: optInt(b.max_output_tokens, "max_output_tokens"),
    temperature: optNum(b.temperature),
    stream: b.stream === true,
  };
}

export function responsesAnswerer(model: string): Answerer {
  const id = newId("resp_");
  const msgId = newId("msg_");
  const created = Math.floor(Date.now() / 1000);
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>) => sse({ type, sequence_number: seq++, ...data }, type);
  const base = { id, object: "response", created_at: created, model };
  const message = (text: string) => ({
    type: "message",
    id: msgId,
    role: "assistant",
    status: "completed",
    content: [{ type: "output_text", text, annotations: [] }],
  });
  const output = (c: Completion) => [
    ...(c.content ? [message(c.content)] : []),
    ...callsOf(c).map((t) => ({
      type: "function_call",
      id: newId("fc_"),
      call_id: t.id,
      name: t.name,
      arguments: t.arguments,
      status: "completed",
    })),
  ];
  const response = (c: Completion) => ({
    ...base,
    status: c.finishReason === "length" ? "incomplete" : "completed",
    ...(c.finishReason === "length" ? { incomplete_details: { reason: "max_output_tokens" } } : {}),
    output: output(c),
    usage: {
      input_tokens: c.usage.promptTokens,
      input_tokens_details: { cached_tokens: c.usage.cachedTokens },
      output_tokens: c.usage.completionTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: c.usage.promptTokens + c.usage.completionTokens,
    },
  });
  let opened = false;
  const openText = () => {
    if (opened) return "";
    opened = true;
    return (
      ev("response.output_item.added", {
        output_index: 0,
        item: { ...message(""), status: "in_progress", content: [] },
      }) +
      ev("response.content_part.added", {
        item_id: msgId,
        output_index: 0,
        content_index: 0,
        part: { type: "output_text", text: "", annotations: [] },
      })
    );
  };
  return {
    body: (c) => response(c),
    open: () => ev("response.created", { response: { ...base, status: "in_progress", output: [] } }),
    delta: (text) =>
      openText() + ev("response.output_text.delta", { item_id: msgId, output_index: 0, content_index: 0, delta: text }),
    close: (c, streamed) => {
      let out = "";
      const items = output(c);
      items.forEach((item, index) => {
        if (item.type === "message") {
          const rest = c.content.startsWith(streamed) ? c.content.slice(streamed.length) : "";
          out += openText();
          if (rest)
            out += ev("response.output_text.delta", { item_id: msgId, output_index: 0, content_index: 0, delta: rest });
          out += ev("response.output_text.done", {
            item_id: msgId,
            output_index: 0,
            content_index: 0,
            text: c.content,
          });
        } else out += ev("response.output_item.added", { output_index: index, item });
        out += ev("response.output_item.done", { output_index: index, item });
      });
      return out + ev("response.completed", { response: response(c) });
    },
    fail: (message) =>
      ev("response.failed", {
        response: { ...base, status: "failed", error: { code: "server_error", message }, output: [] },
      }),
    error: (status, message) => ({ error: { message, type: errorType(status), code: errorType(status) } }),
  };
}
