/**
 * The agent loop: model call → tool calls in the sandbox → observations → repeat, until the
 * agent finishes, a limit is hit, or the budget is exhausted. Every model call is paid for before
 * it is sent (the meter charges the worst case against the run's hold and clamps max_tokens to
 * what is left); repeated identical actions are warned about, then stopped.
 */
import { LanesError } from "./errors.js";
import { TOOLS } from "./agent-prompt.js";
import type { Completion, CompletionRequest, EndpointEvent, Message, Usage } from "./models.js";
import type { Redaction } from "./redact.js";
import type { RunEvent, RunStatus } from "./run-events.js";
import type { Sandbox } from "./sandbox.js";
import { runTool } from "./tools.js";

export interface ModelPort {
  countPrompt(messages: Message[]): Promise<number>;
  complete(
    req: CompletionRequest,
    hooks: {
      signal?: AbortSignal | undefined;
      onBilled: (usd: number | null) => void;
      canAfford: (usd: number) => boolean;
      emit: (e: EndpointEvent) => void;
    },
  ): Promise<Completion>;
}

export interface Meter {
  /** Charge the worst case of the next call; returns the clamped max_tokens (0 = cannot pay a minimal call). */
  beforeCall(promptTokens: number, wantedMaxTokens: number): number;
  /**
   * Settle the call to what it was billed (refunding the unused worst case, or charging more).
   * `tokens` is what the call used, when it returned; a failed call keeps its worst case.
   */
  afterCall(billedUsd: number, tokens?: number): void;
  /** The run's cap in dollars (0 for a run metered in tokens). */
  readonly capUsd: number;
  canAfford(usd: number): boolean;
  spentUsd(): number;
}

export interface Limits {
  steps: number;
  wallTimeMs: number;
  commandTimeoutMs: number;
  maxTokensPerCall: number;
  /** Below this many completion tokens a call is not worth making: the budget is exhausted. */
  minTokensPerCall: number;
}

export interface AgentDeps {
  model: ModelPort;
  sandbox: Sandbox;
  meter: Meter;
  emit: (e: RunEvent) => void;
  /** Applied to everything sent to a hosted tier. */
  redact?: ((text: string) => Redaction) | undefined;
  now?: () => number;
}

export interface TrajectoryEntry {
  step: number;
  at: number;
  kind: "model" | "tool" | "note";
  data: Record<string, unknown>;
}

export interface AgentResult {
  status: RunStatus;
  summary: string;
  steps: number;
  usage: Usage;
  messages: Message[];
  trajectory: TrajectoryEntry[];
  redactions: number;
  modelMs: number;
  toolMs: number;
  /** What the endpoint measured (llama.cpp timings), summed over the calls that reported it. */
  timing: Timing;
}

export interface Timing {
  /** Prompt tokens the server processed (not served from its cache), and the GPU time charged for it. */
  promptProcessed: number;
  promptMs: number;
  /** Tokens generated, and the time it took. */
  predicted: number;
  predictedMs: number;
  /** Prompt tokens of the calls that reported timings (for the cached share). */
  promptTokens: number;
  /** GPU time charged: every call's timings times its share of the server. */
  gpuMs: number;
}

const WARN_AT = 3;
const STOP_AT = 5;

export async function runAgent(
  first: Message[],
  deps: AgentDeps,
  limits: Limits,
  signal?: AbortSignal,
): Promise<AgentResult> {
  const now = deps.now ?? Date.now;
  const started = now();
  let redactions = 0;
  const messages = first.map((m) => ({ ...m, content: m.content === null ? null : scrub(m.content) }));
  const trajectory: TrajectoryEntry[] = [];
  const usage: Usage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, estimated: false };
  let steps = 0;
  let modelMs = 0;
  let toolMs = 0;
  const timing: Timing = { promptProcessed: 0, promptMs: 0, predicted: 0, predictedMs: 0, promptTokens: 0, gpuMs: 0 };
  let lastAction = "";
  let repeats = 0;
  const log = (kind: TrajectoryEntry["kind"], data: Record<string, unknown>) =>
    trajectory.push({ step: steps, at: now() - started, kind, data });
  const end = (status: RunStatus, summary = ""): AgentResult => {
    deps.emit({ type: "agent_end", status, steps, summary });
    return { status, summary, steps, usage, messages, trajectory, redactions, modelMs, toolMs, timing };
  };
  function scrub(text: string): string {
    if (!deps.redact) return text;
    const r = deps.redact(text);
    redactions += r.count;
    return r.text;
  }

  for (;;) {
    if (signal?.aborted) return end("interrupted");
    if (steps >= limits.steps) return end("step_limit", `stopped after ${steps} steps`);
    if (now() - started > limits.wallTimeMs)
      return end("time_limit", `stopped after ${Math.round((now() - started) / 1000)} s`);
    steps++;

    const promptTokens = await deps.model.countPrompt(messages);
    const maxTokens = deps.meter.beforeCall(promptTokens, limits.maxTokensPerCall);
    if (maxTokens < limits.minTokensPerCall)
      return end(
        "budget_exhausted",
        `the hold cannot pay for another call (spent $${deps.meter.spentUsd().toFixed(6)})`,
      );
    let billed = 0;
    let completion: Completion;
    const t0 = now();
    try {
      completion = await deps.model.complete(
        { messages, tools: TOOLS, maxTokens },
        {
          signal,
          onBilled: (usd) => (billed += usd ?? 0),
          canAfford: (usd) => deps.meter.canAfford(usd),
          emit: (event) => deps.emit({ type: "endpoint", event }),
        },
      );
    } catch (err) {
      deps.meter.afterCall(billed);
      modelMs += now() - t0;
      if (err instanceof LanesError && err.kind === "interrupted") return end("interrupted");
      if (err instanceof LanesError && err.kind === "quota") return end("budget_exhausted", err.message);
      log("note", { error: (err as Error).message });
      return end("model_error", (err as Error).message);
    }
    deps.meter.afterCall(billed, completion.usage.promptTokens + completion.usage.completionTokens);
    modelMs += now() - t0;
    accountCall(usage, timing, completion);
    deps.emit({
      type: "model_call",
      step: steps,
      tokensIn: completion.usage.promptTokens,
      tokensOut: completion.usage.completionTokens,
      costUsd: billed,
      spentUsd: deps.meter.spentUsd(),
      capUsd: deps.meter.capUsd,
      ms: now() - t0,
      maxTokens,
    });
    log("model", {
      content: completion.content,
      toolCalls: completion.toolCalls,
      malformed: completion.malformedToolCalls,
      usage: completion.usage,
      costUsd: billed,
      maxTokens,
      endpoint: completion.endpointId,
      ms: now() - t0,
    });

    const calls = [...completion.toolCalls, ...completion.malformedToolCalls.map((m) => m.call)];
    messages.push({
      role: "assistant",
      content: completion.content || null,
      ...(calls.length ? { toolCalls: calls } : {}),
    });
    if (!calls.length) {
      messages.push({ role: "user", content: "Continue with a tool call, or call finish if the task is done." });
      continue;
    }
    for (const bad of completion.malformedToolCalls)
      messages.push({
        role: "tool",
        toolCallId: bad.call.id,
        content: `error: ${bad.error}. Send the call again with valid JSON arguments.`,
      });

    for (const call of completion.toolCalls) {
      if (call.name === "finish") {
        const summary = (JSON.parse(call.arguments || "{}") as { summary?: string }).summary ?? "";
        log("tool", { tool: "finish", summary });
        return end("finished", summary);
      }
      const action = `${call.name}\u0000${call.arguments}`;
      repeats = action === lastAction ? repeats + 1 : 1;
      lastAction = action;
      if (repeats >= STOP_AT) {
        log("note", { loop: call.name, repeats });
        return end("loop_detected", `the same ${call.name} call was repeated ${repeats} times`);
      }
      deps.emit({ type: "tool_start", step: steps, tool: call.name, summary: describe(call.name, call.arguments) });
      const t1 = now();
      const result = await runTool(deps.sandbox, call, limits.commandTimeoutMs, signal);
      toolMs += now() - t1;
      let content = result.content;
      if (repeats >= WARN_AT)
        content +=
          `\n[lanes: you have made this exact ${call.name} call ${repeats} times in a row; it will be` +
          ` stopped at ${STOP_AT}. Try something different.]`;
      content = scrub(content);
      deps.emit({
        type: "tool_end",
        step: steps,
        tool: call.name,
        ms: now() - t1,
        ...(result.exitCode !== undefined ? { exitCode: result.exitCode } : {}),
        ...(result.truncatedBytes ? { truncatedBytes: result.truncatedBytes } : {}),
        ...(result.error ? { error: result.error } : {}),
      });
      log("tool", {
        tool: call.name,
        arguments: call.arguments,
        observation: content,
        exitCode: result.exitCode,
        error: result.error,
        ms: now() - t1,
      });
      messages.push({ role: "tool", toolCallId: call.id, content });
      if (signal?.aborted) return end("interrupted");
    }
  }
}

/** Add a call's usage and llama.cpp timings to a run's totals (the loop's, or the gateway's). */
export function accountCall(usage: Usage, timing: Timing, completion: Completion): void {
  usage.promptTokens += completion.usage.promptTokens;
  usage.completionTokens += completion.usage.completionTokens;
  usage.cachedTokens += completion.usage.cachedTokens;
  usage.estimated ||= completion.usage.estimated;
  const t = completion.timings;
  if (t) timing.gpuMs += (t.promptMs + t.predictedMs) * (t.share ?? 1);
  if (t && t.promptMs > 0 && t.predictedMs > 0) {
    // Speeds are learned per GPU-second charged: a call that shared the server took longer,
    // and paid only its share of that time.
    const share = t.share ?? 1;
    timing.promptProcessed += (t.promptPerSecond * t.promptMs) / 1000;
    timing.promptMs += t.promptMs * share;
    timing.predicted += (t.predictedPerSecond * t.predictedMs) / 1000;
    timing.predictedMs += t.predictedMs * share;
    timing.promptTokens += completion.usage.promptTokens;
  }
}

function describe(tool: string, args: string): string {
  try {
    const a = JSON.parse(args) as Record<string, unknown>;
    if (tool === "bash") return String(a.command ?? "").slice(0, 120);
    return String(a.path ?? "").slice(0, 120);
  } catch {
    return args.slice(0, 120);
  }
}
