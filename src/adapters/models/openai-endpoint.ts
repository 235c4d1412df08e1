/**
 * One model endpoint, called through the `openai` client with its own baseURL. The client's own
 * retries are off (each retry can be billed); lanes retries 429 and 5xx itself, honouring
 * Retry-After, within a time limit and only while the caller can still pay for another attempt.
 * Every attempt that may have been billed is reported: a broken stream counts what arrived and
 * charges the worst case for the rest; a timed-out call is charged its worst case.
 */
import type OpenAI from "openai";
import { LanesError } from "../../core/errors.js";
import { callCostUsd, gpuSecondsOf, worstCaseUsd } from "../../core/cost.js";
import type { Completion, CompletionRequest, Message, Timings, ToolCall, Usage } from "../../core/models.js";
import * as llama from "./llama.js";
import {
  BrokenStream,
  NEVER_REACHED,
  ProtocolError,
  backoff,
  connectionCode,
  isAbort,
  isConnection,
  isParseError,
  isTimeout,
  retryAfter,
} from "./call-faults.js";
import { RateLimiter, sleep } from "./rate-limit.js";
import { watchShare } from "./slot-share.js";
import { countChatTokens, countText, encodingFor, type TokenCount } from "./tokens.js";
import type { CallHooks, EndpointSpec, ModelEndpoint } from "../../core/ports.js";

export class OpenAIEndpoint implements ModelEndpoint {
  private client: Promise<OpenAI> | undefined;
  readonly limiter: RateLimiter | undefined;

  constructor(
    readonly spec: EndpointSpec,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {
    this.limiter = spec.rpm || spec.tpm ? new RateLimiter(spec.rpm, spec.tpm) : undefined;
  }

  get id(): string {
    return this.spec.id;
  }

  /** Prompt tokens before sending: llama.cpp counts exactly; OpenAI models via gpt-tokenizer; else approximate. */
  async countTokens(req: Pick<CompletionRequest, "messages" | "tools">, signal?: AbortSignal): Promise<TokenCount> {
    if (this.spec.tierKind === "local") {
      try {
        return await llama.tokenize(this.spec.baseURL, req.messages, req.tools ?? [], signal);
      } catch {
        // not reachable (yet): fall through to an estimate, marked as such
      }
    }
    return countChatTokens(this.spec.model, req.messages, req.tools ?? []);
  }

  async complete(req: CompletionRequest, hooks: CallHooks = {}): Promise<Completion> {
    const started = performance.now();
    const deadline = Date.now() + (hooks.retryForMs ?? 60_000);
    const promptTokens = (await countChatTokens(this.spec.model, req.messages, req.tools ?? [])).tokens;
    let billed = 0;
    let unpriced = this.spec.price.kind === "unpriced";
    const bill = (usage: Usage, timings?: Timings) => {
      const usd =
        this.spec.price.kind === "priced"
          ? callCostUsd(usage, this.spec.price.price, timings ? gpuSecondsOf(timings) : 0)
          : null;
      if (usd === null) unpriced = true;
      else billed += usd;
      hooks.onBilled?.(usd, usage);
    };
    const worst =
      this.spec.price.kind === "priced" ? worstCaseUsd(promptTokens, req.maxTokens, this.spec.price.price) : 0;

    // The failed attempts of one call never cost more than one worst-case call plus what was
    // received: the first billed failure is charged its worst case, a second only what arrived,
    // and then the call gives up (a protocol error is retried once, at most).
    let billedFailures = 0;
    const billFailure = (receivedTokens: number) => {
      billedFailures++;
      const completionTokens = billedFailures === 1 ? Math.max(receivedTokens, req.maxTokens) : receivedTokens;
      bill({ promptTokens, completionTokens, cachedTokens: 0, estimated: true });
      return completionTokens;
    };

    for (let attempt = 1; ; attempt++) {
      if (this.limiter)
        await this.limiter.take(
          promptTokens + req.maxTokens,
          (waitMs, reason) => hooks.emit?.({ type: "delay", endpointId: this.id, reason, waitMs }),
          hooks.signal,
        );
      let reason: string;
      let retryAfterMs: number | undefined;
      try {
        const c = await this.once(req, hooks);
        bill(c.usage, c.timings);
        return { ...c, latencyMs: Math.round(performance.now() - started), costUsd: unpriced ? Number.NaN : billed };
      } catch (err) {
        if (isAbort(err, hooks.signal)) throw new LanesError("interrupted", "the model call was interrupted");
        const status = (err as { status?: number }).status;
        if (err instanceof ProtocolError) {
          // It answered (and may have billed) but not in the protocol: retried once, at most.
          billFailure((await countText(this.spec.model, err.receivedText)).tokens);
          reason = `protocol error: ${err.detail}`;
          if (billedFailures >= 2) throw this.gaveUp(attempt, reason, billed);
        } else if (err instanceof BrokenStream) {
          // What arrived is counted; the rest of the allowed completion is charged as if it came.
          const received = (await countText(this.spec.model, err.receivedText)).tokens;
          const charged = billFailure(received);
          hooks.emit?.({
            type: "stream_broken",
            endpointId: this.id,
            receivedTokens: received,
            chargedCompletionTokens: charged,
          });
          reason = "stream broke mid-way";
        } else if (isTimeout(err)) {
          billFailure(0); // outcome unknown: worst case
          reason = `no answer within ${this.spec.timeoutMs} ms`;
        } else if (status === 429 || (status !== undefined && status >= 500)) {
          reason = `HTTP ${status}`;
          retryAfterMs = retryAfter((err as { headers?: Headers }).headers);
        } else if (status === undefined && isConnection(err)) {
          const code = connectionCode(err);
          if (NEVER_REACHED.has(code)) reason = `unreachable (${code})`;
          else {
            // The request may have been processed before the connection failed: worst case.
            billFailure(0);
            reason = `connection lost (${code})`;
          }
        } else {
          throw this.fail(err, status);
        }
        if (billedFailures >= 2)
          throw this.gaveUp(attempt, `${reason}; its failed attempts already cost a worst-case call`, billed);
        const delay = retryAfterMs ?? backoff(attempt);
        // A server nobody answers for is down, not busy: say so quickly.
        if ((reason.startsWith("unreachable") || reason.startsWith("connection lost")) && attempt >= 3)
          throw new LanesError("endpoint", `endpoint ${this.id} (${this.spec.baseURL}) is ${reason}`, {
            hint: "`lanes endpoints check` shows its state",
            details: { endpoint: this.id, attempts: attempt, chargedUsd: billed },
          });
        if (Date.now() + delay > deadline)
          throw new LanesError(
            "endpoint",
            `endpoint ${this.id} (${this.spec.baseURL}): gave up after ${attempt} attempt(s): ${reason}`,
            {
              hint: "`lanes endpoints check` shows its state",
              details: { endpoint: this.id, attempts: attempt, chargedUsd: billed },
            },
          );
        if (hooks.canAfford && !hooks.canAfford(worst))
          throw new LanesError(
            "quota",
            `endpoint ${this.id}: not retrying (${reason}): the budget left cannot pay another attempt`,
            { details: { endpoint: this.id, attempts: attempt, chargedUsd: billed } },
          );
        hooks.emit?.({ type: "retry", endpointId: this.id, attempt, delayMs: delay, reason });
        await sleep(delay, hooks.signal).catch(() => {
          throw new LanesError("interrupted", "the model call was interrupted");
        });
      }
    }
  }

  private gaveUp(attempts: number, reason: string, chargedUsd: number): LanesError {
    return new LanesError(
      "endpoint",
      `endpoint ${this.id} (${this.spec.baseURL}): gave up after ${attempts} attempt(s): ${reason}`,
      {
        hint: "`lanes endpoints check` shows its state",
        details: { endpoint: this.id, attempts, chargedUsd },
      },
    );
  }

  /** One attempt, with its own abort signal (one listener per attempt would pile up on the run's). */
  private async once(req: CompletionRequest, hooks: CallHooks): Promise<Omit<Completion, "latencyMs" | "costUsd">> {
    const ac = new AbortController();
    const forward = () => ac.abort(hooks.signal?.reason);
    if (hooks.signal?.aborted) ac.abort(hooks.signal.reason);
    hooks.signal?.addEventListener("abort", forward, { once: true });
    // A local server's GPU is shared by its busy slots: this call pays its share (slot-share.ts).
    const watch = this.spec.tierKind === "local" ? watchShare(this.spec.baseURL) : undefined;
    try {
      const c = await this.attempt(req, hooks, ac.signal);
      const share = watch?.stop();
      return share !== undefined && c.timings ? { ...c, timings: { ...c.timings, share } } : c;
    } finally {
      watch?.stop();
      hooks.signal?.removeEventListener("abort", forward);
    }
  }

  private async attempt(
    req: CompletionRequest,
    hooks: CallHooks,
    signal: AbortSignal,
  ): Promise<Omit<Completion, "latencyMs" | "costUsd">> {
    const client = await this.openai();
    const body = {
      model: this.spec.model,
      messages: req.messages.map(toOpenAI),
      ...(req.tools?.length ? { tools: req.tools.map((t) => ({ type: "function" as const, function: t })) } : {}),
      // OpenAI's newer models take only max_completion_tokens; llama.cpp and most others take max_tokens.
      ...(this.spec.tierKind === "hosted" && encodingFor(this.spec.model)
        ? { max_completion_tokens: req.maxTokens }
        : { max_tokens: req.maxTokens }),
      ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    };
    const options = {
      signal,
      timeout: this.spec.timeoutMs,
      maxRetries: 0,
      ...(req.conversationId ? { headers: { "x-lanes-conversation": req.conversationId } } : {}),
    };
    if (hooks.stream === false) {
      const r = await client.chat.completions.create({ ...body, stream: false }, options).catch((err: unknown) => {
        throw isParseError(err) ? new ProtocolError("", "the body is not JSON") : err;
      });
      if (!r || typeof r !== "object" || !Array.isArray((r as { choices?: unknown }).choices))
        throw new ProtocolError("", "the body has no choices");
      const choice = r.choices[0];
      const calls = (choice?.message.tool_calls ?? [])
        .filter((c) => c.type === "function")
        .map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }));
      return this.result(
        choice?.message.content ?? "",
        calls,
        choice?.finish_reason ?? "stop",
        r.usage,
        (r as { timings?: RawTimings }).timings,
      );
    }
    const stream = await client.chat.completions.create(
      { ...body, stream: true, stream_options: { include_usage: true } },
      options,
    );
    let content = "";
    const calls: ToolCall[] = [];
    let finish = "stop";
    let usage: OpenAI.CompletionUsage | undefined;
    let timings: RawTimings | undefined;
    let chunks = 0;
    try {
      for await (const chunk of stream) {
        chunks++;
        if (chunk.usage) usage = chunk.usage;
        const t = (chunk as { timings?: RawTimings }).timings;
        if (t) timings = t;
        const choice = chunk.choices[0];
        if (!choice) continue;
        if (choice.delta.content) {
          content += choice.delta.content;
          hooks.onDelta?.(choice.delta.content);
        }
        for (const d of choice.delta.tool_calls ?? []) {
          const call = (calls[d.index] ??= { id: "", name: "", arguments: "" });
          if (d.id) call.id = d.id;
          if (d.function?.name) call.name += d.function.name;
          if (d.function?.arguments) call.arguments += d.function.arguments;
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    } catch (err) {
      if (isAbort(err, hooks.signal)) throw err;
      const received = content + calls.map((c) => c.name + c.arguments).join("");
      if (isParseError(err)) throw new ProtocolError(received, "an event's data is not JSON");
      throw new BrokenStream(received, err);
    }
    if (!chunks) throw new ProtocolError("", "no server-sent events in the answer");
    if (!usage)
      throw new BrokenStream(
        content + calls.map((c) => c.name + c.arguments).join(""),
        new Error("the stream ended without usage"),
      );
    return this.result(content, calls.filter(Boolean), finish, usage, timings);
  }

  private result(
    content: string,
    calls: ToolCall[],
    finish: string,
    usage: OpenAI.CompletionUsage | undefined,
    timings: RawTimings | undefined,
  ): Omit<Completion, "latencyMs" | "costUsd"> {
    const malformed: Completion["malformedToolCalls"] = [];
    const good: ToolCall[] = [];
    calls.forEach((c, i) => {
      const call = { ...c, id: c.id || `call_${i}` };
      try {
        JSON.parse(call.arguments || "{}");
        good.push(call);
      } catch (err) {
        malformed.push({ call, error: `arguments are not valid JSON (${(err as Error).message})` });
      }
    });
    return {
      endpointId: this.id,
      model: this.spec.model,
      content,
      toolCalls: good,
      malformedToolCalls: malformed,
      finishReason: finish,
      usage: {
        promptTokens: usage?.prompt_tokens ?? 0,
        completionTokens: usage?.completion_tokens ?? 0,
        cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
        estimated: false,
      },
      ...(timings
        ? {
            timings: {
              promptMs: timings.prompt_ms ?? 0,
              predictedMs: timings.predicted_ms ?? 0,
              promptPerSecond: timings.prompt_per_second ?? 0,
              predictedPerSecond: timings.predicted_per_second ?? 0,
            },
          }
        : {}),
    };
  }

  private openai(): Promise<OpenAI> {
    this.client ??= (async () => {
      let apiKey = "no-key";
      if (this.spec.apiKeyEnv) {
        const key = this.env[this.spec.apiKeyEnv];
        if (!key)
          throw new LanesError("endpoint", `endpoint ${this.id}: ${this.spec.apiKeyEnv} is not set`, {
            hint: `export ${this.spec.apiKeyEnv}=… (keys live only in the environment)`,
          });
        apiKey = key;
      }
      const { default: OpenAIClient } = await import("openai");
      return new OpenAIClient({ apiKey, baseURL: this.spec.baseURL, maxRetries: 0, timeout: this.spec.timeoutMs });
    })();
    return this.client;
  }

  private fail(err: unknown, status: number | undefined): LanesError {
    if (err instanceof LanesError) return err;
    const what = status ? `answered ${status}` : (err as Error).message;
    const hint =
      status === 401 || status === 403
        ? `check the key in ${this.spec.apiKeyEnv ?? "the apiKeyEnv variable"}`
        : status === 404
          ? `check baseURL and model "${this.spec.model}"`
          : "`lanes endpoints check` shows its state";
    return new LanesError("endpoint", `endpoint ${this.id} (${this.spec.baseURL}) ${what}`, {
      hint,
      details: { endpoint: this.id, status },
    });
  }
}

interface RawTimings {
  prompt_ms?: number;
  predicted_ms?: number;
  prompt_per_second?: number;
  predicted_per_second?: number;
}

function toOpenAI(m: Message): OpenAI.ChatCompletionMessageParam {
  if (m.role === "tool") return { role: "tool", tool_call_id: m.toolCallId ?? "", content: m.content ?? "" };
  if (m.role === "assistant")
    return {
      role: "assistant",
      content: m.content,
      ...(m.toolCalls?.length
        ? {
            tool_calls: m.toolCalls.map((c) => ({
              id: c.id,
              type: "function" as const,
              function: { name: c.name, arguments: c.arguments },
            })),
          }
        : {}),
    };
  return { role: m.role, content: m.content ?? "" };
}

/** Retry-After: OpenAI's retry-after-ms, else seconds or an HTTP date. */

export { backoff, retryAfter } from "./call-faults.js";
export type { CallHooks, EndpointSpec } from "../../core/ports.js";
