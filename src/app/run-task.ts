/**
 * One run, end to end: reserve the hold → acquire a sandbox with the repository → the agent loop
 * → the check → patch, summary and trajectory → settle → audit → release. A failed attempt may
 * escalate to the lane's next tier, which is a new plan and a new decision — never silent.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { LanesError } from "../core/errors.js";
import type { AgentResult } from "../core/agent.js";
import type { ExternalAgent } from "../adapters/agents/adapters.js";
import { agentProfile, driveAgent } from "./drive-agent.js";
import type { EgressEvent } from "../core/sandbox.js";
import { runSetup, setupProfile, type Setup } from "./setup-step.js";
import type { RunEvent } from "../core/run-events.js";
import { parseDuration } from "../core/sandbox.js";
import type { Config } from "../adapters/config/schema.js";
import { dataDir } from "../adapters/config/paths.js";
import type { AuditTrail, ModelEndpoint, SandboxHost, Store } from "../core/ports.js";
import type { Sandbox } from "../core/sandbox.js";
import type { Adapters } from "./ports.js";
import { selfOwner } from "../adapters/owner.js";
import { priceTable } from "../adapters/models/prices.js";
import { bucketsFor } from "./buckets.js";
import { HoldMeter, TokenMeter } from "./meter.js";
import type { Plan } from "./plan-task.js";

export interface RunRequest {
  config: Config;
  root: string;
  plan: Plan;
  endpoint: ModelEndpoint;
  ledger: Store;
  audit: AuditTrail;
  adapters: Adapters;
  /** Every configured endpoint (the run's fallbacks among them); built from the config when absent. */
  endpoints?: Map<string, ModelEndpoint>;
  emit: (e: RunEvent) => void;
  signal: AbortSignal;
  /** The check command (task's, else lane's). */
  check?: string | undefined;
  runId?: string;
  /** Run on this Docker host instead of the profile's (the batch scheduler spreads tasks). */
  hostName?: string | undefined;
  /** Called once the hold is reserved, so a crash can be found and charged later. */
  onStart?: (runId: string, holdId: string) => void;
  /** false: the run teaches the estimator nothing (a replay, unless --record-history). */
  recordHistory?: boolean;
  /** The task template's setup, over the lane's. */
  setup?: Setup | undefined;
  /** An external agent behind the model gateway; absent = lanes' own loop. */
  agent?: ExternalAgent | undefined;
}

export interface Attempt {
  runId: string;
  dir: string;
  tier: string;
  agent: AgentResult;
  check: "passed" | "failed" | "unchecked";
  patch: string | null;
  costUsd: number;
  durationMs: number;
  /** Metered in tokens: there is no dollar figure, and reports must say so. */
  unpriced: boolean;
  overageUsd: number;
  /** The end of what a failed check printed. */
  checkOutput?: string | undefined;
  /** Why the patch could not be taken (the run then has no patch, and says so). */
  patchError?: string | undefined;
}

export async function runAttempt(r: RunRequest): Promise<Attempt> {
  const { config, plan, ledger, audit, emit } = r;
  const lane = config.lanes[plan.lane]!;
  const runId = r.runId ?? `r${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  const dir = join(dataDir(), "runs", runId);
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const wallMs = parseDuration(lane.limits.wallTime);
  const local = r.endpoint.spec.tierKind === "local";
  const priced = r.endpoint.spec.price.kind === "priced";
  const caps = {
    usd: lane.budget.capUsd,
    sandbox_seconds: wallMs / 1000,
    ...(local ? { gpu_seconds: wallMs / 1000 } : {}),
    ...(priced ? {} : { tokens: lane.budget.capTokens }),
  };
  const buckets = bucketsFor(config, plan.identity, new Date(), plan.lane);

  // The hold and the audit record that documents it commit together (and the trail's head with them).
  const hold = ledger.atomically(() => {
    const h = ledger.reserve({
      runId,
      lane: plan.lane,
      buckets,
      caps,
      ttlMs: wallMs + 10 * 60_000,
      priceVersion: priceTable().version,
      owner: selfOwner(),
      meta: {
        tier: plan.tier,
        task: plan.task.text.slice(0, 500),
        p90Usd: plan.cost.p90Usd,
        capUsd: lane.budget.capUsd,
        dir,
      },
    });
    audit.append({
      action: "reserve",
      runId,
      inputs: { holdId: h.id, caps, buckets: buckets.map((b) => b.key), planHash: plan.planHash },
    });
    return h;
  });
  r.onStart?.(runId, hold.id);
  emit({
    type: "run_start",
    runId,
    lane: plan.lane,
    tier: plan.tier,
    endpoint: r.endpoint.id,
    class: plan.cost.class,
    p50Usd: plan.cost.p50Usd,
    p90Usd: plan.cost.p90Usd,
    capUsd: lane.budget.capUsd,
  });

  const meter =
    r.endpoint.spec.price.kind === "priced"
      ? new HoldMeter(ledger, hold.id, lane.budget.capUsd, r.endpoint.spec.price.price)
      : new TokenMeter(ledger, hold.id, lane.budget.capTokens);
  let sandbox: Sandbox | undefined;
  let host: SandboxHost | undefined;
  let agent: AgentResult | undefined;
  let check: Attempt["check"] = "unchecked";
  let checkOutput: string | undefined;
  let patchError: string | undefined;
  const egress: EgressEvent[] = [];
  let patch: string | null = null;
  let sandboxSeconds: number;
  try {
    const profile = config.sandbox.profiles[lane.sandbox]!;
    host = await r.adapters.hosts(config).open(r.hostName ?? profile.host);
    const t0 = Date.now();
    // A lane's setup: FROM its cache when there is one, else with egress to the allowlist for it.
    const setup = r.setup ?? lane.setup;
    const prepared = await setupProfile(host, setup, r.root, profile);
    const profileFor = await agentProfile(host, r.agent, prepared.profile);
    sandbox = await host.acquire({
      profileName: r.agent?.pkg ? `${lane.sandbox}+${r.agent.name}` : lane.sandbox,
      profile: profileFor,
      repo: r.root,
      runId,
    });
    // allowlist sandboxes: every egress attempt, allowed or blocked, in the run and the audit trail.
    sandbox.onEgress?.((e) => {
      egress.push(e);
      emit({ type: "egress", ...e });
      audit.append({ action: "egress", runId, inputs: { host: e.host, port: e.port }, outcome: { ...e } });
    });
    emit({
      type: "sandbox_ready",
      id: sandbox.info.id,
      host: sandbox.info.host,
      fromPool: sandbox.info.fromPool,
      ms: Date.now() - t0,
    });
    for (const s of plan.repo.workspace?.skipped ?? [])
      emit({ type: "warning", message: `not copied into the sandbox: ${s.path} (${s.why})` });
    if (plan.repo.workspace?.lfsPointers.length)
      emit({
        type: "warning",
        message: `Git LFS pointers copied without their content: ${plan.repo.workspace.lfsPointers.join(", ")}`,
      });
    if (setup) await runSetup(sandbox, setup, prepared, profile.network, emit);

    const endpoints = r.endpoints ?? r.adapters.endpoints(config);
    if (!endpoints.has(r.endpoint.id)) endpoints.set(r.endpoint.id, r.endpoint);
    agent = await driveAgent({
      config,
      lane,
      root: r.root,
      task: plan.task.text,
      runId,
      endpoint: r.endpoint,
      endpoints,
      sandbox,
      meter,
      audit,
      emit,
      signal: r.signal,
      agent: r.agent,
    });
    // The patch is the agent's change: taken before the check, so nothing the check builds is in it.
    if (!r.signal.aborted || agent.status !== "interrupted") {
      let diff = "";
      try {
        diff = await sandbox.diff();
      } catch (err) {
        emit({ type: "warning", message: `the patch could not be taken: ${(err as Error).message}` });
        patchError = (err as Error).message;
      }
      if (diff) {
        patch = join(dir, "patch.diff");
        writeFileSync(patch, diff);
      }
    }
    if (agent.status === "finished" && r.check && !r.signal.aborted) {
      const t1 = Date.now();
      const o = await sandbox.exec({ command: r.check, timeoutMs: parseDuration(lane.limits.commandTimeout) });
      check = o.exitCode === 0 ? "passed" : "failed";
      if (check === "failed") checkOutput = tailOf(o.stdout, o.stderr);
      const ms = Date.now() - t1;
      emit({
        type: "check",
        command: r.check,
        exitCode: o.exitCode,
        passed: check === "passed",
        ms,
        ...(checkOutput ? { outputTail: checkOutput } : {}),
      });
      agent.trajectory.push({
        step: agent.steps,
        at: Date.now() - started,
        kind: "note",
        data: { check: r.check, exitCode: o.exitCode, stdout: o.stdout.slice(-4000), stderr: o.stderr.slice(-4000) },
      });
    }
  } finally {
    sandboxSeconds = (Date.now() - started) / 1000;
    if (sandbox) {
      const id = sandbox.info.id;
      await sandbox.release().catch((err: Error) =>
        emit({
          type: "warning",
          message:
            `sandbox ${id} could not be removed: ${err.message}; its TTL ends it, and the next lanes command` +
            ` reaps it (or: lanes sandbox rm ${id})`,
        }),
      );
    }
    await host?.settle();
    try {
      ledger.charge(hold.id, "sandbox_seconds", Math.min(sandboxSeconds, caps.sandbox_seconds), "sandbox time");
      const gpu = (agent?.timing.gpuMs ?? 0) / 1000;
      if (caps.gpu_seconds && gpu > 0)
        ledger.charge(hold.id, "gpu_seconds", Math.min(gpu, caps.gpu_seconds), "GPU time (share of the server)");
    } catch {
      /* the hold's time is capped; the rest is not chargeable */
    }
    ledger.atomically(() => {
      const settled = ledger.settle(hold.id);
      audit.append({
        action: "settle",
        runId,
        inputs: { holdId: hold.id },
        outcome: { status: agent?.status ?? "error", charged: settled.charged, overageUsd: overageOf(meter) },
      });
    });
  }
  const costUsd = ledger.chargedOn(hold.id, "usd");
  const durationMs = Date.now() - started;
  writeFileSync(
    join(dir, "trajectory.json"),
    `${JSON.stringify(
      {
        runId,
        plan: {
          lane: plan.lane,
          agent: r.agent?.name ?? "lanes",
          tier: plan.tier,
          endpoint: r.endpoint.id,
          model: r.endpoint.spec.model,
          planHash: plan.planHash,
          cost: plan.cost,
          decision: plan.decision,
        },
        status: agent.status,
        summary: agent.summary,
        check,
        steps: agent.steps,
        usage: agent.usage,
        redactions: agent.redactions,
        modelMs: agent.modelMs,
        toolMs: agent.toolMs,
        sandboxSeconds,
        costUsd,
        capUsd: lane.budget.capUsd,
        // Billed beyond what the hold could still take: never hidden.
        overageUsd: overageOf(meter),
        trajectory: agent.trajectory,
        egress,
        messages: agent.messages,
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(join(dir, "summary.txt"), `${agent.status}: ${agent.summary}\n`);
  ledger.runStore.save({
    id: runId,
    createdAt: started,
    lane: plan.lane,
    tier: plan.tier,
    task: plan.task.text.slice(0, 500),
    status: agent.status,
    check,
    costUsd,
    p90Usd: plan.cost.p90Usd,
    capUsd: lane.budget.capUsd,
    steps: agent.steps,
    durationMs,
    holdId: hold.id,
    dir,
    tokens: agent.usage.promptTokens + agent.usage.completionTokens,
    unpriced: !priced,
    overageUsd: overageOf(meter),
    user: plan.identity.user,
    team: plan.identity.team,
    project: plan.identity.project,
    p50Usd: plan.cost.p50Usd,
  });
  if (agent.steps > 0 && agent.status !== "interrupted" && r.recordHistory !== false) {
    const obs = agent.trajectory
      .filter((t) => t.kind === "tool")
      .reduce((n, t) => n + String(t.data.observation ?? "").length / 4, 0);
    ledger.historyStore.add({
      lane: r.agent ? `${plan.lane}@${r.agent.name}` : plan.lane,
      template: plan.task.template,
      tier: plan.tier,
      steps: agent.steps,
      completionPerStep: agent.usage.completionTokens / agent.steps,
      observationPerStep: obs / agent.steps,
      secondsPerStep: durationMs / 1000 / agent.steps,
      costUsd,
      endpoint: r.endpoint.id,
      ...measuredSpeeds(agent),
    });
  }
  return {
    runId,
    dir,
    tier: plan.tier,
    agent,
    check,
    checkOutput,
    patch,
    patchError,
    costUsd,
    durationMs,
    unpriced: !priced,
    overageUsd: overageOf(meter),
  };
}

function overageOf(meter: HoldMeter | TokenMeter): number {
  return meter instanceof HoldMeter ? meter.overageUsd : 0;
}

/** Did the attempt succeed? A finish with a passing (or no) check. */
export function succeeded(a: Attempt): boolean {
  return a.agent.status === "finished" && a.check !== "failed";
}

export function requireEndpoint(endpoints: Map<string, ModelEndpoint>, plan: Plan): ModelEndpoint {
  const ep = endpoints.get(plan.endpoint.id);
  if (!ep) throw new LanesError("usage", `endpoint ${plan.endpoint.id} of the plan is not configured any more`);
  return ep;
}

/** The last lines of a command's output (stdout, then stderr), at most 20 lines and 2,000 characters. */
function tailOf(stdout: string, stderr: string): string {
  const text = [stdout.trimEnd(), stderr.trimEnd()].filter(Boolean).join("\n");
  return text.split("\n").slice(-20).join("\n").slice(-2000);
}

/**
 * What this run measured of its endpoint: llama.cpp's timings where it reported them (prompt
 * tokens processed and generated per second, and the share of the prompt served from its cache),
 * else for a hosted endpoint its completion tokens per second of model wall time.
 */
function measuredSpeeds(agent: AgentResult): { promptTps?: number; completionTps?: number; cachedShare?: number } {
  const t = agent.timing;
  if (t.promptMs > 0 && t.predictedMs > 0 && t.promptTokens > 0)
    return {
      promptTps: t.promptProcessed / (t.promptMs / 1000),
      completionTps: t.predicted / (t.predictedMs / 1000),
      cachedShare: Math.min(1, Math.max(0, 1 - t.promptProcessed / t.promptTokens)),
    };
  if (agent.modelMs > 0 && agent.usage.completionTokens > 0)
    return { completionTps: agent.usage.completionTokens / (agent.modelMs / 1000) };
  return {};
}
