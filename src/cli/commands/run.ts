/** `lanes run TASK`: plan → decision and approval → hold → sandbox → agent → check → patch → settle. */
import { readFileSync } from "node:fs";
import { ExitCode, LanesError } from "../../core/errors.js";
import { exitCodeForRun } from "../../core/exit-codes.js";
import { policyEditsOf } from "../../core/policy-edits.js";
import type { RunEvent } from "../../core/run-events.js";
import { treeState } from "../../app/apply-patch.js";
import { identityOf } from "../../app/identity.js";
import { planTask, type Plan } from "../../app/plan-task.js";
import { adapters, openAudit, openLedger } from "../compose.js";
import { requireEndpoint, runAttempt, succeeded, type Attempt } from "../../app/run-task.js";
import { readPlan, staleness, verifyApproval } from "../../app/saved-plan.js";
import { repoRelative } from "../../app/tree-pin.js";
import { originOf } from "../../adapters/config/locate.js";
import type { VerifiedApproval } from "../../core/approval.js";
import { resolveTask } from "../../app/templates.js";
import { eventLine } from "../../report/run-text.js";
import type { CommandContext } from "../context.js";
import { loadFor } from "../load-config.js";
import { reapAll } from "../../adapters/docker/hosts.js";
import { writeEvent } from "../write-event.js";
import { bringHome, type Applied } from "../bring-home.js";
import { approveEscalation, gate } from "../run-gate.js";
import { useEndpoint, type EndpointChoice } from "../run-endpoint.js";
import { parseWait, waitOut } from "../wait-out.js";
import { resolveAgent } from "../../adapters/agents/adapters.js";

export interface RunOpts {
  wait?: string;
  plan?: string;
  apply?: boolean;
  branch?: string;
  recordHistory?: boolean;
  endpoint?: string;
  set?: string[];
  agent?: string;
  agentCmd?: string;
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
  let choice: EndpointChoice = { replay: false, close: async () => {} };
  const ledger = await openLedger();
  try {
    const who = await identityOf(config, root);
    const audit = openAudit(ledger, who.user);
    const saved = ctx.opts.plan ? readPlan(ctx.opts.plan) : undefined;
    const task = saved
      ? { text: saved.task.text, template: saved.task.template, check: undefined, lane: saved.lane }
      : await resolveTask(root, ctx.args[0], ctx.opts.set ?? []);
    const laneName = saved?.lane ?? ctx.mode.lane ?? task.lane ?? config.defaults.lane;
    const lane = config.lanes[laneName];
    if (!lane) throw new LanesError("usage", `unknown lane "${laneName}"`);
    const check = task.check ?? lane.check;
    if (saved && ctx.opts.endpoint && ctx.opts.endpoint !== saved.endpoint.id)
      throw new LanesError(
        "usage",
        `${ctx.opts.plan} pins endpoint ${saved.endpoint.id}; --endpoint ${ctx.opts.endpoint} would run something else`,
        { hint: `make and approve a new plan: lanes plan … --endpoint ${ctx.opts.endpoint} --out ${ctx.opts.plan}` },
      );
    // With a saved plan the plan's own endpoint is used (planTask's endpointId): the config stays as pinned.
    if (!saved) choice = await useEndpoint(config, ctx.opts.endpoint, laneName, ctx.mode.tier);
    const pinned = (tier: string) =>
      choice.endpointId && tier === choice.tier ? { endpointId: choice.endpointId } : {};
    const base = {
      config,
      root,
      who,
      ledger,
      adapters,
      origin: (p: (string | number)[]) => originOf(loaded, p),
      policies: loaded.policies,
      setup: task.setup,
      // A saved plan names its agent; running it with another one makes it stale.
      agent: resolveAgent(ctx.opts.agent ?? saved?.agent ?? lane.agent, ctx.opts.agentCmd),
    };
    let plan: Plan;
    let verified: VerifiedApproval | undefined;
    if (saved) {
      // The file's verdict is never trusted: plan again now, and check what the file pinned.
      const here = repoRelative(root, ctx.opts.plan!);
      const exclude = [...new Set([...saved.repo.exclude, ...(here ? [here] : [])])];
      plan = await planTask({
        ...base,
        task: saved.task.text,
        template: saved.task.template,
        lane: saved.lane,
        tier: saved.tier,
        endpointId: saved.endpoint.id,
        exclude,
      });
      const stale = staleness(saved, plan);
      if (stale.length)
        throw new LanesError("approval", `plan ${ctx.opts.plan} is stale: ${stale.join("; ")}`, {
          hint: `make and approve a new one: lanes plan … --out ${ctx.opts.plan} && lanes approve ${ctx.opts.plan}`,
          details: { stale },
        });
      const v = verifyApproval(saved, process.env.LANES_APPROVAL_KEY || undefined, audit);
      verified = v.approval;
      if (v.ignored) ctx.out.warn(v.ignored);
    } else
      plan = await planTask({
        ...base,
        task: task.text,
        template: task.template,
        lane: laneName,
        tier: choice.tier ?? ctx.mode.tier ?? config.defaults.tier,
        ...pinned(choice.tier ?? ""),
      });

    if (plan.decision.verdict === "delay" && ctx.opts.wait && !saved) {
      plan = await waitOut(ctx, plan, parseWait(ctx.opts.wait), ac.signal, audit, () =>
        planTask({
          ...base,
          task: task.text,
          template: task.template,
          lane: laneName,
          tier: plan.tier,
          ...pinned(plan.tier),
        }),
      );
    }
    audit.append({
      action: "plan",
      decision: plan.decision,
      inputs: {
        lane: plan.lane,
        tier: plan.tier,
        endpoint: plan.endpoint.id,
        estimate: plan.cost,
        quota: plan.quota,
        policyHash: plan.inputs.policyHash,
        priceVersion: plan.inputs.priceVersion,
        planHash: plan.planHash,
        saved: saved !== undefined,
      },
    });
    const approvedBy = await gate(ctx, plan, config, {
      verified,
      audit,
      replan: (tier) => planTask({ ...base, task: task.text, template: task.template, lane: laneName, tier }),
    });
    if (ctx.mode.kind === "interactive") live = (await import("../../ui/render-run.js")).liveRun(plan.cost.capUsd);
    emit({
      type: "decision",
      stage: "plan",
      tier: plan.tier,
      decision: plan.decision,
      ...(approvedBy ? { approvedBy } : {}),
    });

    const before = ctx.opts.apply ? await treeState(root) : "";
    // What killed lanes processes left on the hosts (containers, volumes, networks) goes first.
    await reapAll(config);
    const endpoints = adapters.endpoints(config);
    const attemptOn = (p: Plan) =>
      runAttempt({
        config,
        root,
        plan: p,
        endpoint: requireEndpoint(endpoints, p),
        endpoints,
        ledger,
        audit,
        adapters,
        emit,
        signal: ac.signal,
        check,
        setup: task.setup,
        agent: base.agent,
        // A replay is a rehearsal: it costs nothing and teaches the estimator nothing, unless asked.
        recordHistory: !choice.replay || ctx.opts.recordHistory === true,
      });
    let attempt: Attempt = await attemptOn(plan);

    // Escalation: a failed attempt may go to the lane's next tier — a new plan, a new decision.
    let escalationRefused: string | undefined;
    while (
      !succeeded(attempt) &&
      ["finished", "step_limit", "loop_detected"].includes(attempt.agent.status) &&
      !ac.signal.aborted
    ) {
      const next = lane.tiers[lane.tiers.indexOf(plan.tier) + 1];
      if (!next || lane.escalation === "never") break;
      const reason =
        attempt.agent.status === "finished"
          ? `the check \`${check}\` failed on ${plan.tier}`
          : `${attempt.agent.status} on ${plan.tier}`;
      const nextPlan = await planTask({
        ...base,
        task: task.text,
        template: task.template,
        lane: laneName,
        tier: next,
      });
      emit({ type: "escalation", from: plan.tier, to: next, reason });
      emit({ type: "decision", stage: "escalation", tier: next, decision: nextPlan.decision });
      audit.append({
        action: "escalate",
        runId: attempt.runId,
        decision: nextPlan.decision,
        inputs: { from: plan.tier, to: next, reason, estimate: nextPlan.cost, planHash: nextPlan.planHash },
      });
      // ink draws one tree per terminal: the live view ends before a prompt, and starts again after.
      const asking = ctx.mode.kind === "interactive";
      if (asking) {
        await live?.done();
        live = undefined;
      }
      const ok = await approveEscalation(ctx, nextPlan, lane.escalation);
      if (asking && ok === true) live = (await import("../../ui/render-run.js")).liveRun(nextPlan.cost.capUsd);
      if (ok !== true) {
        escalationRefused =
          `${reason}; escalating to ${next} (${nextPlan.cost.class}, p90 ${nextPlan.cost.p90Usd?.toFixed(4) ?? "unpriced"})` +
          ` needs approval: ${ok}`;
        break;
      }
      plan = nextPlan;
      attempt = await attemptOn(plan);
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
      applied = await bringHome(ctx, {
        root,
        patch,
        before,
        passed: succeeded(attempt),
        policyEdits,
        lane,
        audit,
        runId: attempt.runId,
        message,
        endLive,
      });
    }
    const status = ac.signal.aborted ? "interrupted" : attempt.agent.status;
    const usage = attempt.agent.usage;
    const tokens = usage.promptTokens + usage.completionTokens;
    const cost = {
      actualUsd: attempt.unpriced ? null : attempt.costUsd,
      p90Usd: plan.cost.p90Usd,
      capUsd: plan.cost.capUsd,
      tokens,
      overageUsd: attempt.overageUsd,
    };
    emit({
      type: "run_end",
      runId: attempt.runId,
      status,
      check: attempt.check,
      ...(attempt.checkOutput ? { checkOutput: attempt.checkOutput } : {}),
      patch,
      policyEdits,
      ...(applied ? { applied } : {}),
      cost,
      steps: attempt.agent.steps,
      durationMs: attempt.durationMs,
      usage,
    });
    if (ac.signal.aborted) return ExitCode.interrupted;
    if (escalationRefused) {
      ctx.out.warn(escalationRefused);
      return ExitCode.approval;
    }
    if (applied?.some((a) => !a.ok && a.policy)) return ExitCode.approval;
    // A run whose patch could not be taken has nothing to show for itself: never "ok, no changes".
    if (attempt.patchError) return ExitCode.sandbox;
    if (applied?.some((a) => !a.ok) && succeeded(attempt)) return ExitCode.taskFailed;
    return exitCodeForRun(attempt.agent.status, attempt.check);
  } finally {
    await live?.done();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    ledger.close();
    await choice.close();
  }
}

function renderer(ctx: CommandContext<unknown>): (e: RunEvent) => void {
  if (ctx.mode.kind === "json") return writeEvent;
  return (e) => {
    const line = eventLine(e);
    if (!line) return;
    if (e.type === "run_end") process.stdout.write(`${line}\n`);
    else if (!ctx.mode.quiet) process.stderr.write(`${line}\n`);
  };
}
