/**
 * The gateway's model calls, metered exactly as lanes' own loop meters its calls: counted, the
 * worst case charged against the run's hold before the call is forwarded (max tokens clamped to
 * what the hold can still pay), redacted for a hosted tier, routed to the lane's endpoint with
 * failover inside the cost class, settled to what the endpoint billed, recorded in the
 * trajectory and audited. Calls are served one at a time: the meter settles each before the next.
 */
import { LanesError } from "../core/errors.js";
import { accountCall, type Meter, type Timing, type TrajectoryEntry } from "../core/agent.js";
import { callCostUsd, worstCaseUsd, type CostClassBounds } from "../core/cost.js";
import type { Completion, Usage } from "../core/models.js";
import type { CallIo, CallResult, GatewayCall, RawSink } from "../core/protocols/call.js";
import type { Redaction } from "../core/redact.js";
import type { RunEvent, RunStatus } from "../core/run-events.js";
import type { AuditTrail, ModelEndpoint } from "../core/ports.js";
import { completeWithFailover } from "./failover.js";
import { passThrough, type Passed } from "../adapters/gateway/passthrough.js";

export interface GatewayDeps {
  endpoints: Map<string, ModelEndpoint>;
  endpointId: string;
  costClasses: CostClassBounds;
  meter: Meter;
  emit: (e: RunEvent) => void;
  audit?: AuditTrail | undefined;
  runId: string;
  redact?: ((text: string) => Redaction) | undefined;
  limits: { steps: number; maxTokensPerCall: number; minTokensPerCall: number };
  signal: AbortSignal;
  /** The run must end now (the hold cannot pay, or the step limit is reached). */
  onStop: (status: RunStatus, reason: string) => void;
}

/** Calls at once (the one served and those waiting), at most: each holds its request body in memory. */
const MAX_WAITING = 8;

export class GatewayCalls {
  steps = 0;
  modelMs = 0;
  redactions = 0;
  lastText = "";
  stopped: { status: RunStatus; reason: string } | undefined;
  readonly usage: Usage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, estimated: false };
  readonly timing: Timing = {
    promptProcessed: 0,
    promptMs: 0,
    predicted: 0,
    predictedMs: 0,
    promptTokens: 0,
    gpuMs: 0,
  };
  readonly trajectory: TrajectoryEntry[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  private readonly started = Date.now();

  constructor(private readonly d: GatewayDeps) {}

  /** Serve one call (after the ones before it); a flood of parallel calls is refused, not queued. */
  call(c: GatewayCall, protocol: string, io: CallIo = {}): Promise<CallResult> {
    if (this.waiting >= MAX_WAITING)
      return Promise.resolve({ ok: false, status: 429, message: `lanes: more than ${MAX_WAITING} calls at once` });
    this.waiting++;
    const next = this.queue.then(() => this.serve(c, protocol, io)).finally(() => this.waiting--);
    this.queue = next.catch(() => {});
    return next;
  }

  private stop(status: RunStatus, reason: string, http: number): CallResult {
    if (!this.stopped) {
      this.stopped = { status, reason };
      this.d.onStop(status, reason);
    }
    return { ok: false, status: http, message: `lanes: ${this.stopped.reason}` };
  }

  private async serve(c: GatewayCall, protocol: string, io: CallIo): Promise<CallResult> {
    const d = this.d;
    if (this.stopped) return { ok: false, status: 402, message: `lanes: ${this.stopped.reason}` };
    if (d.signal.aborted) return { ok: false, status: 503, message: "lanes: the run is ending" };
    if (this.steps >= d.limits.steps)
      return this.stop("step_limit", `the lane's step limit (${d.limits.steps} model calls) is reached`, 429);
    const endpoint = d.endpoints.get(d.endpointId)!;
    const messages = c.messages.map((m) => (m.content === null ? m : { ...m, content: this.scrub(m.content) }));
    const promptTokens = (await endpoint.countTokens({ messages, tools: c.tools }, d.signal)).tokens;
    const wanted = Math.min(c.maxTokens ?? d.limits.maxTokensPerCall, d.limits.maxTokensPerCall);
    const maxTokens = d.meter.beforeCall(promptTokens, wanted);
    if (maxTokens < Math.min(d.limits.minTokensPerCall, wanted)) {
      d.meter.afterCall(0, 0); // nothing is sent: the worst case charged for it goes back
      return this.stop(
        "budget_exhausted",
        `the run's budget cannot pay for this call (${promptTokens} prompt tokens; spent ` +
          `$${d.meter.spentUsd().toFixed(6)} of $${d.meter.capUsd.toFixed(2)})`,
        402,
      );
    }
    this.steps++;
    // An endpoint that speaks the agent's own protocol gets it unchanged (hosted tiers: a local
    // one is charged GPU time, which only the translated path measures).
    if ((protocol === "responses" || protocol === "messages") && c.raw && io.raw && endpoint.spec.api === protocol)
      if (endpoint.spec.tierKind === "hosted")
        return this.passOn(c.raw, protocol, endpoint, maxTokens, promptTokens, io.raw);
    const onDelta = io.onDelta;
    let billed = 0;
    const t0 = Date.now();
    let completion: Completion;
    try {
      completion = await completeWithFailover(
        d.endpoints,
        d.endpointId,
        {
          messages,
          tools: c.tools,
          maxTokens,
          conversationId: d.runId,
          ...(c.temperature !== undefined ? { temperature: c.temperature } : {}),
        },
        d.costClasses,
        {
          signal: d.signal,
          onBilled: (usd) => (billed += usd ?? 0),
          canAfford: (usd) => d.meter.canAfford(usd),
          emit: (event) => d.emit({ type: "endpoint", event }),
          stream: c.stream,
          ...(onDelta ? { onDelta } : {}),
        },
      );
    } catch (err) {
      d.meter.afterCall(billed);
      this.modelMs += Date.now() - t0;
      this.log({ protocol, error: (err as Error).message, costUsd: billed, maxTokens });
      if (err instanceof LanesError && err.kind === "quota") return this.stop("budget_exhausted", err.message, 402);
      if (err instanceof LanesError && err.kind === "interrupted")
        return { ok: false, status: 503, message: "lanes: interrupted" };
      return { ok: false, status: 502, message: `lanes: the lane's endpoint failed: ${(err as Error).message}` };
    }
    d.meter.afterCall(billed, completion.usage.promptTokens + completion.usage.completionTokens);
    this.record(protocol, completion, billed, maxTokens, promptTokens, Date.now() - t0);
    return { ok: true, completion };
  }

  /** The agent's request as it is, to an endpoint that speaks its protocol (passthrough.ts). */
  private async passOn(
    body: Record<string, unknown>,
    protocol: "responses" | "messages",
    endpoint: ModelEndpoint,
    maxTokens: number,
    promptTokens: number,
    sink: RawSink,
  ): Promise<CallResult> {
    const d = this.d;
    const price = endpoint.spec.price.kind === "priced" ? endpoint.spec.price.price : undefined;
    const t0 = Date.now();
    const worst = price ? worstCaseUsd(promptTokens, maxTokens, price) : 0;
    let answered = 0; // the endpoint's status, once its answer began
    const watched: RawSink = { start: (status, type) => sink.start((answered = status), type), write: sink.write };
    let passed: Passed;
    try {
      passed = await passThrough({
        spec: endpoint.spec,
        env: process.env,
        protocol,
        body,
        maxTokens,
        conversationId: d.runId,
        signal: d.signal,
        redact: d.redact && ((t) => this.scrub(t)),
        sink: watched,
      });
    } catch (err) {
      // Nothing answered: nothing billed. A stream that broke mid-way may have been: worst case.
      const kept = answered > 0 && answered < 400;
      d.meter.afterCall(kept ? worst : 0, kept ? undefined : 0);
      this.modelMs += Date.now() - t0;
      this.log({ protocol, passthrough: true, error: (err as Error).message, costUsd: kept ? worst : 0, maxTokens });
      return { ok: false, status: 502, message: `lanes: the lane's endpoint failed: ${(err as Error).message}` };
    }
    const usage = passed.usage;
    if (!usage) {
      // An error answer is not billed; an answer that never said what it used keeps its worst case.
      const kept = passed.status < 400 ? worst : 0;
      d.meter.afterCall(kept, passed.status >= 400 ? 0 : undefined);
      this.modelMs += Date.now() - t0;
      this.log({ protocol, passthrough: true, status: passed.status, costUsd: kept, maxTokens });
      return { ok: true, passed: true };
    }
    const billed = price ? callCostUsd(usage, price) : 0;
    d.meter.afterCall(billed, usage.promptTokens + usage.completionTokens);
    const completion: Completion = {
      endpointId: endpoint.id,
      model: endpoint.spec.model,
      content: passed.text,
      toolCalls: [],
      malformedToolCalls: [],
      finishReason: "passthrough",
      usage,
      latencyMs: Date.now() - t0,
      costUsd: billed,
    };
    this.record(protocol, completion, billed, maxTokens, promptTokens, Date.now() - t0, true);
    return { ok: true, passed: true };
  }

  /** A call's usage in the run's totals, its event, trajectory entry and audit record. */
  private record(
    protocol: string,
    completion: Completion,
    billed: number,
    maxTokens: number,
    promptTokens: number,
    ms: number,
    passthrough = false,
  ): void {
    const d = this.d;
    this.modelMs += ms;
    accountCall(this.usage, this.timing, completion);
    if (completion.content) this.lastText = completion.content;
    const tokens = { in: completion.usage.promptTokens, out: completion.usage.completionTokens };
    d.emit({
      type: "model_call",
      step: this.steps,
      tokensIn: tokens.in,
      tokensOut: tokens.out,
      costUsd: billed,
      spentUsd: d.meter.spentUsd(),
      capUsd: d.meter.capUsd,
      ms,
      maxTokens,
    });
    this.log({
      protocol,
      ...(passthrough ? { passthrough } : {}),
      promptTokens,
      content: completion.content,
      toolCalls: completion.toolCalls,
      usage: completion.usage,
      costUsd: billed,
      maxTokens,
      endpoint: completion.endpointId,
      ms,
    });
    d.audit?.append({
      action: "charge",
      runId: d.runId,
      inputs: { via: "gateway", protocol, passthrough, endpoint: completion.endpointId, maxTokens },
      outcome: { tokensIn: tokens.in, tokensOut: tokens.out, costUsd: billed },
    });
  }

  private scrub(text: string): string {
    if (!this.d.redact) return text;
    const r = this.d.redact(text);
    this.redactions += r.count;
    return r.text;
  }

  private log(data: Record<string, unknown>): void {
    this.trajectory.push({ step: this.steps, at: Date.now() - this.started, kind: "model", data });
  }
}
