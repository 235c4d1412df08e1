/** The gateway's three protocols: requests to chat messages, answers (whole and streamed) back. */
import { describe, expect, it } from "vitest";
import type { Completion } from "../../src/core/models.js";
import { BadRequest } from "../../src/core/protocols/call.js";
import { chatAnswerer, chatRequest } from "../../src/core/protocols/chat.js";
import { responsesAnswerer, responsesRequest } from "../../src/core/protocols/responses.js";
import { messagesAnswerer, messagesRequest } from "../../src/core/protocols/anthropic.js";

const completion = (over: Partial<Completion> = {}): Completion => ({
  endpointId: "ep",
  model: "m",
  content: "Done.",
  toolCalls: [{ id: "call_1", name: "exec_command", arguments: '{"cmd":"ls"}' }],
  malformedToolCalls: [],
  finishReason: "tool_calls",
  usage: { promptTokens: 100, completionTokens: 20, cachedTokens: 40, estimated: false },
  latencyMs: 5,
  costUsd: 0.001,
  ...over,
});

/** The data of each server-sent event. */
const data = (stream: string) =>
  stream
    .split("\n\n")
    .filter((b) => b.includes("data: "))
    .map((b) => b.slice(b.indexOf("data: ") + 6))
    .filter((d) => d !== "[DONE]")
    .map((d) => JSON.parse(d) as Record<string, any>);

describe("OpenAI Responses", () => {
  it("turns instructions, messages, parallel function calls and their outputs into chat messages", () => {
    const c = responsesRequest({
      model: "x",
      instructions: "be brief",
      stream: true,
      max_output_tokens: 300,
      input: [
        { type: "message", role: "developer", content: [{ type: "input_text", text: "rules" }] },
        { type: "message", role: "user", content: [{ type: "input_text", text: "fix it" }] },
        { type: "reasoning", summary: [] },
        { type: "function_call", call_id: "a", name: "exec_command", arguments: '{"cmd":"ls"}' },
        { type: "function_call", call_id: "b", name: "exec_command", arguments: '{"cmd":"pwd"}' },
        { type: "function_call_output", call_id: "a", output: "x.js" },
        { type: "function_call_output", call_id: "b", output: [{ type: "input_text", text: "/w" }] },
      ],
      tools: [
        { type: "function", name: "exec_command", description: "run", parameters: { type: "object" } },
        { type: "web_search" },
        { type: "namespace", name: "agents", tools: [] },
      ],
    });
    expect(c.stream).toBe(true);
    expect(c.maxTokens).toBe(300);
    expect(c.messages).toEqual([
      { role: "system", content: "be brief" },
      { role: "system", content: "rules" },
      { role: "user", content: "fix it" },
      {
        role: "assistant",
        content: null,
        toolCalls: [
          { id: "a", name: "exec_command", arguments: '{"cmd":"ls"}' },
          { id: "b", name: "exec_command", arguments: '{"cmd":"pwd"}' },
        ],
      },
      { role: "tool", toolCallId: "a", content: "x.js" },
      { role: "tool", toolCallId: "b", content: "/w" },
    ]);
    expect(c.tools.map((t) => t.name)).toEqual(["exec_command"]); // only function tools reach the model
  });

  it("streams the text as it comes, then the function calls and usage in response.completed", () => {
    const a = responsesAnswerer("gpt");
    const events = data(a.open() + a.delta("Do") + a.delta("ne.") + a.close(completion(), "Done."));
    const types = events.map((e) => e.type);
    expect(types[0]).toBe("response.created");
    expect(types.filter((t) => t === "response.output_text.delta")).toHaveLength(2);
    expect(types.at(-1)).toBe("response.completed");
    const done = events.at(-1)!.response;
    expect(done.output.map((o: { type: string }) => o.type)).toEqual(["message", "function_call"]);
    expect(done.output[1]).toMatchObject({ call_id: "call_1", name: "exec_command", arguments: '{"cmd":"ls"}' });
    expect(done.usage).toMatchObject({
      input_tokens: 100,
      output_tokens: 20,
      input_tokens_details: { cached_tokens: 40 },
    });
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
  });

  it("refuses a request it cannot read with a clear message", () => {
    expect(() => responsesRequest({ input: 3 })).toThrow(BadRequest);
    expect(() => responsesRequest({ input: [{ type: "message", role: "robot", content: "x" }] })).toThrow(/role/);
    expect(() => responsesRequest({ input: "x", max_output_tokens: -1 })).toThrow(/positive integer/);
  });
});

describe("Anthropic Messages", () => {
  it("turns system, tool_use and tool_result blocks into chat messages", () => {
    const c = messagesRequest({
      model: "claude",
      system: [{ type: "text", text: "sys" }],
      max_tokens: 100,
      messages: [
        { role: "user", content: "fix" },
        {
          role: "assistant",
          content: [
            { type: "text", text: "running" },
            { type: "tool_use", id: "t1", name: "bash", input: { cmd: "ls" } },
          ],
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "a.js", is_error: true }] },
      ],
      tools: [{ name: "bash", description: "run", input_schema: { type: "object" } }],
    });
    expect(c.messages).toEqual([
      { role: "system", content: "sys" },
      { role: "user", content: "fix" },
      { role: "assistant", content: "running", toolCalls: [{ id: "t1", name: "bash", arguments: '{"cmd":"ls"}' }] },
      { role: "tool", toolCallId: "t1", content: "error: a.js" },
    ]);
    expect(c.tools).toEqual([{ name: "bash", description: "run", parameters: { type: "object" } }]);
  });

  it("answers with text and tool_use blocks, whole or streamed", () => {
    const body = messagesAnswerer("claude").body(completion()) as Record<string, any>;
    expect(body.content).toEqual([
      { type: "text", text: "Done." },
      { type: "tool_use", id: "call_1", name: "exec_command", input: { cmd: "ls" } },
    ]);
    expect(body).toMatchObject({ stop_reason: "tool_use", usage: { input_tokens: 60, cache_read_input_tokens: 40 } });
    const a = messagesAnswerer("claude");
    const ev = data(a.open() + a.delta("Do") + a.close(completion(), "Do"));
    expect(ev.map((e) => e.type)).toEqual([
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_delta", // the rest of the text ("ne.")
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(ev[3]!.delta.text).toBe("ne.");
    expect(ev[6]!.delta).toEqual({ type: "input_json_delta", partial_json: '{"cmd":"ls"}' });
  });
});

describe("OpenAI Chat Completions", () => {
  it("passes messages and function tools through, and streams chunks that add up to the answer", () => {
    const c = chatRequest({
      model: "m",
      max_completion_tokens: 50,
      messages: [
        { role: "developer", content: "sys" },
        {
          role: "user",
          content: [
            { type: "text", text: "hi" },
            { type: "image_url", image_url: { url: "x" } },
          ],
        },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "1", type: "function", function: { name: "f", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "1", content: "ok" },
      ],
    });
    expect(c.maxTokens).toBe(50);
    expect(c.messages[0]).toEqual({ role: "system", content: "sys" });
    expect(c.messages[1]!.content).toBe("hi[image_url omitted by the lanes gateway]");
    expect(c.messages[2]!.toolCalls).toEqual([{ id: "1", name: "f", arguments: "{}" }]);
    const a = chatAnswerer("m");
    const stream = a.open() + a.delta("Do") + a.close(completion(), "Do");
    expect(stream.endsWith("data: [DONE]\n\n")).toBe(true);
    const chunks = data(stream);
    const text = chunks.map((ch) => ch.choices[0]?.delta?.content ?? "").join("");
    expect(text).toBe("Done.");
    expect(chunks.find((ch) => ch.choices[0]?.delta?.tool_calls)?.choices[0].delta.tool_calls[0]).toMatchObject({
      index: 0,
      id: "call_1",
      function: { name: "exec_command" },
    });
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 100, completion_tokens: 20 });
  });
});
