/** `lanes run TASK`: plan → decision and approval → hold → sandbox → agent → check → patch → settle. */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { ExitCode, LanesError } from "../../core/errors.js";
import { hunksFor, policyEditsOf } from "../../core/policy-edits.js";
import type { RunEvent } from "../../core/run-events.js";
import type { Config, Lane } from "../../adapters/config/schema.js";
import { applyPatch, commitOnBranch, treeState } from "../../app/apply-patch.js";
import { buildEndpoints } from "../../app/endpoints.js";
import { identityOf } from "../../app/identity.js";
import { planTask, type Plan } from "../../app/plan-task.js";
import { openAudit, openLedger } from "../../app/records.js";
import { exitCodeOf, requireEndpoint, runAttempt, succeeded, type Attempt } from "../../app/run-task.js";
import { readPlan, staleness, verifyApproval } from "../../app/saved-plan.js";
import { repoRelative } from "../../app/tree-pin.js";
import { originOf } from "../../adapters/config/load.js";
import type { AuditLog } from "../../adapters/store/audit.js";
import { resolveApproval, type VerifiedApproval } from "../../core/approval.js";
import { resolveTask } from "../../app/templates.js";
import { planText } from "../../report/plan-text.js";
import { eventLine } from "../../report/run-text.js";
import type { CommandContext } from "../context.js";
import { loadFor } from "../load-config.js";

interface RunOpts {
  wait?: string;
  plan?: string;
  apply?: boolean;
  branch?: string;
  endpoint?: string;
  set?: string[];
}

export async function run(ctx: CommandContext<RunOpts>): Promise<number> {
  const loaded = await loadFor(ctx);
  const { root } = loaded;
  const config = structuredClone(loaded.config);
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let live: { emit: (e: RunEvent) => void; done: () => Promise<void> } | undefined;
  const plainEmit = renderer(ctx);
  // In a terminal the run is shown live with ink, once the approval (if any) is settled.
  const emit = (e: RunEvent) => (live ? live.emit(e) : plainEmit(e));
  const replay = await useEndpoint(config, ctx, root);
  const ledger = await openLedger();
  try {
    const who = await identityOf(config, root);
    const audit = openAudit(ledger, who.user);
    const saved = ctx.opts.plan ? readPlan(ctx.opts.plan) : undefined;
    const task = saved ? { text: saved.task.text, template: saved.task.template, check: undefined, lane: saved.lane } : resolveTask(root, ctx.args[0], ctx.opts.set ?? []);
    const laneName = saved?.lane ?? ctx.mode.lane ?? task.lane ?? config.defaults.lane;
    const lane = config.lanes[laneName];
    if (!lane) throw new LanesError("usage", `unknown lane "${laneName}"`);
    const check = task.check ?? lane.check;
    const base = { config, root, who, ledger, origin: (p: (string | number)[]) => originOf(loaded, p), policies: loaded.policies };
    let plan: Plan;
    let verified: VerifiedApproval | undefined;
    if (saved) {
      // The file's verdict is never trusted: plan again now, and check what the file pinned.
      const here = repoRelative(root, ctx.opts.plan!);
      const exclude = [...new Set([...saved.repo.exclude, ...(here ? [here] : [])])];
      plan = await planTask({ ...base, task: saved.task.text, template: saved.task.template, lane: saved.lane, tier: saved.tier, endpointId: saved.endpoint.id, exclude });
      const stale = staleness(saved, plan);
      if (stale.length) throw new LanesError("approval", `plan ${ctx.opts.plan} is stale: ${stale.join("; ")}`, { hint: `make and approve a new one: lanes plan … --out ${ctx.opts.plan} && lanes approve ${ctx.opts.plan}`, details: { stale } });
      const v = verifyApproval(saved, process.env.LANES_APPROVAL_KEY || undefined, audit);
      verified = v.approval;
      if (v.ignored) ctx.out.warn(v.ignored);
    } else plan = await planTask({ ...base, task: task.text, template: task.template, lane: laneName, tier: ctx.mode.tier ?? config.defaults.tier });

    if (plan.decision.verdict === "delay" && ctx.opts.wait && !saved) {
      plan = await waitOut(ctx, plan, parseWait(ctx.opts.wait), ac.signal, audit, () => planTask({ ...base, task: task.text, template: task.template, lane: laneName, tier: plan.tier }));
    }
    audit.append({ action: "plan", decision: plan.decision, inputs: { lane: plan.lane, tier: plan.tier, endpoint: plan.endpoint.id, estimate: plan.cost, quota: plan.quota, policyHash: plan.inputs.policyHash, priceVersion: plan.inputs.priceVersion, planHash: plan.planHash, saved: saved !== undefined } });
    const approvedBy = await gate(ctx, plan, config, { verified, audit, replan: (tier) => planTask({ ...base, task: task.text, template: task.template, lane: laneName, tier }) });
    if (ctx.mode.kind === "interactive") live = (await import("../../ui/render-run.js")).liveRun();
    emit({ type: "decision", stage: "plan", tier: plan.tier, decision: plan.decision, ...(approvedBy ? { approvedBy } : {}) });

    const before = ctx.opts.apply ? await treeState(root) : "";
    const endpoints = buildEndpoints(config);
    let attempt: Attempt = await runAttempt({ config, root, plan, endpoint: requireEndpoint(endpoints, plan), ledger, audit, emit, signal: ac.signal, check });

    // Escalation: a failed attempt may go to the lane's next tier — a new plan, a new decision.
    let escalationRefused: string | undefined;
    while (!succeeded(attempt) && ["finished", "step_limit", "loop_detected"].includes(attempt.agent.status) && !ac.signal.aborted) {
      const next = lane.tiers[lane.tiers.indexOf(plan.tier) + 1];
      if (!next || lane.escalation === "never") break;
      const reason = attempt.agent.status === "finished" ? `the check \`${check}\` failed on ${plan.tier}` : `${attempt.agent.status} on ${plan.tier}`;
      const nextPlan = await planTask({ ...base, task: task.text, template: task.template, lane: laneName, tier: next });
      emit({ type: "escalation", from: plan.tier, to: next, reason });
      emit({ type: "decision", stage: "escalation", tier: next, decision: nextPlan.decision });
      audit.append({ action: "escalate", runId: attempt.runId, decision: nextPlan.decision, inputs: { from: plan.tier, to: next, reason, estimate: nextPlan.cost, planHash: nextPlan.planHash } });
      const ok = await approveEscalation(ctx, nextPlan, lane.escalation);
      if (ok !== true) {
        escalationRefused = `${reason}; escalating to ${next} (${nextPlan.cost.class}, p90 ${nextPlan.cost.p90Usd?.toFixed(4) ?? "unpriced"}) needs approval: ${ok}`;
        break;
      }
      plan = nextPlan;
      attempt = await runAttempt({ config, root, plan, endpoint: requireEndpoint(endpoints, plan), ledger, audit, emit, signal: ac.signal, check });
    }

    const patch = attempt.patch;
    const policyEdits = patch ? policyEditsOf(readFileSync(patch, "utf8")) : [];
    let applied: Applied[] | undefined;
    if (ctx.opts.apply || ctx.opts.branch) {
      const message = `lanes: ${task.text.split("\n")[0]!.slice(0, 60)}\n\n${attempt.agent.summary}\n\nrun ${attempt.runId}`;
      // A prompt about policy edits needs the terminal: the live view ends first.
      const endLive = async () => {
        await live?.done();
        live = undefined;
      };
      applied = await bringHome(ctx, { root, patch, before, passed: succeeded(attempt), policyEdits, lane, audit, runId: attempt.runId, message, endLive });
    }
    const status = ac.signal.aborted ? "interrupted" : attempt.agent.status;
    const usage = attempt.agent.usage;
    const tokens = usage.promptTokens + usage.completionTokens;
    const cost = { actualUsd: attempt.unpriced ? null : attempt.costUsd, p90Usd: plan.cost.p90Usd, capUsd: plan.cost.capUsd, tokens, overageUsd: attempt.overageUsd };
    emit({ type: "run_end", runId: attempt.runId, status, check: attempt.check, patch, policyEdits, ...(applied ? { applied } : {}), cost, steps: attempt.agent.steps, durationMs: attempt.durationMs, usage });
    if (ac.signal.aborted) return 130;
    if (escalationRefused) {
      ctx.out.warn(escalationRefused);
      return 3;
    }
    if (applied?.some((a) => !a.ok && a.policy)) return ExitCode.approval;
    if (applied?.some((a) => !a.ok) && succeeded(attempt)) return ExitCode.taskFailed;
    return exitCodeOf(attempt);
  } finally {
    await live?.done();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    ledger.close();
    await replay?.close();
  }
}

type Applied = { ok: boolean; how: "apply" | "branch"; reason?: string; policy?: boolean };

/**
 * --apply/--branch: bring the patch home when the check passed, and always say what happened.
 * A patch that edits policy needs its own approval: a person at a terminal who has seen those
 * hunks, or in CI --yes on a lane whose `policyEdits` is `allow`; `deny` refuses it everywhere.
 */
async function bringHome(
  ctx: CommandContext<RunOpts>,
  o: { root: string; patch: string | null; before: string; passed: boolean; policyEdits: string[]; lane: Lane; audit: AuditLog; runId: string; message: string; endLive: () => Promise<void> },
): Promise<Applied[]> {
  const wanted: ("apply" | "branch")[] = [...(ctx.opts.apply ? ["apply" as const] : []), ...(ctx.opts.branch ? ["branch" as const] : [])];
  const all = (reason: string, policy = false) => wanted.map((how) => ({ ok: false, how, reason, ...(policy ? { policy } : {}) }));
  if (!o.patch) return all("the run made no changes");
  if (!o.passed) return all(`the check did not pass; the patch is kept at ${o.patch}`);
  if (o.policyEdits.length) {
    const files = o.policyEdits.join(", ");
    const mode = o.lane.policyEdits;
    let by = "";
    let why = "";
    if (mode === "deny") why = `it edits policy (${files}) and the lane's policyEdits is deny`;
    else if (ctx.mode.kind === "interactive") {
      await o.endLive();
      process.stderr.write(`\nThe patch edits policy files: ${files}\n${hunksFor(readFileSync(o.patch, "utf8"), o.policyEdits)}\n`);
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const reply = await rl.question("apply these policy edits too? [y/N] ");
      rl.close();
      if (/^y(es)?$/i.test(reply.trim())) by = (await import("../../adapters/identity-source.js")).safeUser();
      else why = "you declined the policy edits";
    } else if (ctx.mode.yes && mode === "allow") by = "--yes";
    else why = `it edits policy (${files}); without a terminal that needs --yes on a lane with policyEdits: allow`;
    const reasons = [{ rule: "patch.policy_edit", level: "soft", message: `the patch edits ${files}` }];
    const decision = { verdict: by ? "allow" : "deny", reasons };
    o.audit.append({ action: by ? "approve" : "deny", runId: o.runId, decision, inputs: { policyEdits: o.policyEdits, patch: o.patch }, ...(by ? { outcome: { by } } : {}) });
    if (!by) return all(`${why}; the patch is kept at ${o.patch}`, true);
  }
  const out: Applied[] = [];
  for (const how of wanted) {
    try {
      if (how === "apply") await applyPatch(o.root, o.patch, o.before);
      else await commitOnBranch(o.root, o.patch, ctx.opts.branch!, o.message);
      out.push({ ok: true, how });
    } catch (err) {
      out.push({ ok: false, how, reason: (err as Error).message });
    }
  }
  return out;
}

function parseWait(text: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(text);
  if (!m) throw new LanesError("usage", `--wait ${text} is not a duration`, { hint: "e.g. --wait 90s or --wait 10m" });
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "s" | "m" | "h"];
}

/** Wait (visibly, and audited) for a delay to clear: re-plan every few seconds until it does or time runs out. */
async function waitOut(ctx: CommandContext<RunOpts>, first: Plan, waitMs: number, signal: AbortSignal, audit: AuditLog, replan: () => Promise<Plan>): Promise<Plan> {
  const until = Date.now() + waitMs;
  audit.append({ action: "delay", decision: first.decision, inputs: { planHash: first.planHash, waitMs } });
  let plan = first;
  while (plan.decision.verdict === "delay" && Date.now() < until && !signal.aborted) {
    const why = plan.decision.reasons.filter((r) => r.level === "soft" && (r.rule.startsWith("lane.") || r.rule.startsWith("endpoint."))).map((r) => r.message).join("; ");
    const retry = plan.decision.retryAt ? Date.parse(plan.decision.retryAt) : Date.now() + 2000;
    const step = Math.max(200, Math.min(2000, retry - Date.now(), until - Date.now()));
    if (ctx.mode.kind !== "json") ctx.out.info(`waiting (${Math.ceil((until - Date.now()) / 1000)} s left): ${why}`);
    else process.stdout.write(`${JSON.stringify({ type: "waiting", reasons: plan.decision.reasons, secondsLeft: Math.ceil((until - Date.now()) / 1000) })}\n`);
    await new Promise((r) => setTimeout(r, step));
    plan = await replan();
  }
  return plan;
}

/** The approval gate (core/approval.ts decides): who approved ("" when policy allowed it), or it throws. */
async function gate(
  ctx: CommandContext<RunOpts>,
  plan: Plan,
  config: Config,
  o: { verified: VerifiedApproval | undefined; audit: AuditLog; replan: (tier: string) => Promise<Plan> },
): Promise<string> {
  const d = plan.decision;
  const lane = config.lanes[plan.lane]!;
  const stop = (code: number, message: string, hint?: string): never => {
    o.audit.append({ action: d.verdict === "delay" ? "delay" : "deny", decision: d, inputs: { planHash: plan.planHash, lane: plan.lane, tier: plan.tier } });
    if (ctx.mode.kind !== "json") process.stderr.write(`${planText(plan, ctx.out.style)}\n`);
    throw new LanesError(code === ExitCode.quota ? "quota" : "approval", message, { ...(hint ? { hint } : {}), details: { decision: d } });
  };
  const interactive = ctx.mode.kind === "interactive";
  const answer = resolveApproval({ decision: d, mode: lane.approval.mode, interactive, yes: ctx.mode.yes, approval: o.verified, user: plan.identity.user });
  if (answer.kind === "refuse") return stop(answer.exitCode, answer.message, answer.hint);
  if (answer.kind === "proceed") {
    if (answer.how !== "policy") {
      const how = answer.how === "saved" ? `saved plan (${o.verified!.verifiedBy})` : "yes";
      o.audit.append({ action: "approve", decision: d, inputs: { planHash: plan.planHash }, outcome: { by: answer.by, how } });
    }
    return answer.by;
  }
  const { askApproval } = await import("../../ui/render-plan.js");
  const others = lane.tiers.filter((t) => config.tiers[t]?.endpoints.length);
  const next = (cur: Plan) => o.replan(others[(others.indexOf(cur.tier) + 1) % others.length]!);
  const result = await askApproval(plan, others.length > 1 ? next : undefined);
  if (result.answer === "deny") return stop(ExitCode.approval, "you denied the run");
  Object.assign(plan, result.plan);
  const by = plan.identity.user;
  o.audit.append({ action: "approve", decision: plan.decision, inputs: { planHash: plan.planHash }, outcome: { by, how: "interactive" } });
  return by;
}

async function approveEscalation(ctx: CommandContext<RunOpts>, plan: Plan, mode: "ask" | "allow" | "never"): Promise<true | string> {
  if (plan.decision.verdict === "deny") return `policy denies it (${plan.decision.reasons.filter((r) => r.level === "hard").map((r) => r.rule).join(", ")})`;
  if (plan.decision.verdict === "delay") return "it is delayed";
  if (mode === "allow" && plan.decision.verdict === "allow") return true;
  if (ctx.mode.kind === "interactive") {
    const { askApproval } = await import("../../ui/render-plan.js");
    return (await askApproval(plan, undefined)).answer === "approve" ? true : "you denied it";
  }
  return "no terminal to ask in, and the lane's escalation is not `allow`";
}

/** --endpoint NAME picks a configured endpoint; --endpoint replay:FILE serves a replay script in-process. */
async function useEndpoint(config: Config, ctx: CommandContext<RunOpts>, root: string): Promise<{ close(): Promise<void> } | undefined> {
  const spec = ctx.opts.endpoint;
  if (!spec) return undefined;
  const laneName = ctx.mode.lane ?? config.defaults.lane;
  const tierName = ctx.mode.tier ?? config.lanes[laneName]?.tiers[0] ?? "standard";
  const tier = config.tiers[tierName];
  if (!tier) throw new LanesError("usage", `unknown tier "${tierName}"`);
  if (!spec.startsWith("replay:")) {
    const ep = Object.values(config.tiers).flatMap((t) => t.endpoints).find((e) => e.id === spec);
    if (!ep) throw new LanesError("usage", `no endpoint named "${spec}"`, { hint: "`lanes endpoints ls` lists them; or use replay:FILE" });
    tier.endpoints = [ep, ...tier.endpoints.filter((e) => e.id !== spec)];
    return undefined;
  }
  const { loadScript } = await import("../../adapters/models/replay-script.js");
  const { startReplayServer } = await import("../../adapters/models/replay-server.js");
  const { resolve } = await import("node:path");
  const script = loadScript(resolve(process.cwd(), spec.slice("replay:".length)));
  const server = await startReplayServer(script);
  const existing = tier.endpoints[0];
  tier.endpoints = [{ id: "replay", baseURL: server.url, model: script.model, timeout: "60s", fallbacks: [], ...(existing?.price && tier.kind === "local" ? { price: existing.price } : {}), ...(tier.kind === "local" && !existing?.price ? { price: { gpuHourUsd: 0 } } : {}) }];
  void root;
  return server;
}

function renderer(ctx: CommandContext<unknown>): (e: RunEvent) => void {
  if (ctx.mode.kind === "json") return (e) => process.stdout.write(`${JSON.stringify(e)}\n`);
  return (e) => {
    const line = eventLine(e);
    if (!line) return;
    if (e.type === "run_end") process.stdout.write(`${line}\n`);
    else if (!ctx.mode.quiet) process.stderr.write(`${line}\n`);
  };
}
