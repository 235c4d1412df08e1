/** `lanes batch FILE`: one plan, one approval and one budget for many tasks in parallel sandboxes. */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { ExitCode, LanesError } from "../../core/errors.js";
import { exitCodeForBatch } from "../../core/exit-codes.js";
import { dataDir } from "../../adapters/config/paths.js";
import { loadBatch } from "../../app/batch-file.js";
import { planBatch, type BatchPlan } from "../../app/batch-plan.js";
import { resolveApproval } from "../../core/approval.js";
import { runBatch } from "../../app/batch-run.js";
import { resolveAgent } from "../../adapters/agents/adapters.js";
import type { BatchPlanEvent, TaskEvent, TaskRunEvent } from "../../core/run-events.js";
import { writeEvent } from "../write-event.js";
import { identityOf } from "../../app/identity.js";
import { adapters, openAudit, openLedger } from "../compose.js";
import { annotations, buildReport, markdown, summaryText } from "../../report/batch-report.js";
import { money } from "../../report/plan-text.js";
import type { CommandContext } from "../context.js";
import { loaderFor } from "../load-config.js";
import { taskConfigs } from "../../app/batch-config.js";
import { treeState } from "../../app/apply-patch.js";
import { bringBatchHome, NO_CHANGES } from "../bring-home.js";
import { approverFor } from "../approvers.js";
import { reapAll } from "../../adapters/docker/hosts.js";

interface BatchOpts {
  concurrency?: string;
  resume?: string;
  dryRun?: boolean;
  failFast?: boolean;
  apply?: boolean;
  branch?: string;
  agent?: string;
  agentCmd?: string;
}

export async function batch(ctx: CommandContext<BatchOpts>): Promise<number> {
  const load = await loaderFor(ctx);
  const loaded = load(ctx.mode.repo);
  const { config, root } = loaded;
  const ledger = await openLedger();
  const ac = new AbortController();
  setMaxListeners(0, ac.signal); // every task and command in flight listens on it
  const onSignal = () => ac.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const resumed = ctx.opts.resume ? ledger.batchStore.get(ctx.opts.resume) : undefined;
    if (ctx.opts.resume && !resumed) throw new LanesError("usage", `no batch ${ctx.opts.resume} to resume`);
    const file = resumed?.file ?? (ctx.args[0] ? resolve(ctx.args[0]) : undefined);
    if (!file)
      throw new LanesError("usage", "no batch file given", { hint: "lanes batch batch.yaml (or --resume ID)" });
    const { batch: b, items } = loadBatch(file);
    const laneName = b.lane ?? ctx.mode.lane ?? config.defaults.lane;
    const configs = taskConfigs(loaded, laneName);
    const configFor = (repo: string) => configs(repo, load);
    // The batch's own lane, or (defined only in the repositories) the first task's.
    const lane = config.lanes[laneName] ?? (items[0] ? configFor(items[0].repo).config.lanes[laneName] : undefined);
    if (!lane)
      throw new LanesError("usage", `unknown lane "${laneName}"`, {
        hint: `define lanes.${laneName} in lanes.yaml here or in each repository's`,
      });
    const who = await identityOf(config, root);
    const audit = openAudit(ledger, who.user);
    if (ctx.mode.kind !== "json") ctx.out.info(`planning ${items.length} tasks…`);
    const plan = await planBatch({
      config,
      batch: b,
      items,
      who,
      ledger,
      adapters,
      lane: laneName,
      tier: b.tier ?? ctx.mode.tier,
      configFor,
      agent: resolveAgent(ctx.opts.agent ?? b.agent, ctx.opts.agentCmd ?? b.agentCmd),
    });
    if (resumed && ledger.batchStore.tasks(resumed.id).length !== plan.tasks.length)
      throw new LanesError(
        "usage",
        `batch ${resumed.id} had ${ledger.batchStore.tasks(resumed.id).length} tasks; ${file} now gives ${plan.tasks.length}`,
        { hint: "resume with the same batch file" },
      );
    show(ctx, plan);
    if (ctx.opts.dryRun) return ExitCode.ok;

    const name = b.name ?? file.split("/").pop()!;
    if (!resumed) {
      const interactive = ctx.mode.kind === "interactive";
      const answer = resolveApproval({
        decision: plan.decision,
        mode: lane.approval.mode,
        interactive,
        yes: ctx.mode.yes,
        user: who.user,
      });
      const inputs = { batch: name, tasks: plan.totals };
      if (answer.kind === "refuse") {
        const action = plan.decision.verdict === "delay" ? "delay" : "deny";
        audit.append({ action, decision: plan.decision, inputs });
        const kind = answer.exitCode === ExitCode.quota ? "quota" : "approval";
        const hint = answer.exitCode === ExitCode.approval ? "pass --yes to approve the whole batch" : answer.hint;
        throw new LanesError(kind, `batch: ${answer.message}`, hint ? { hint } : {});
      }
      if (answer.kind === "ask") {
        const approver = await approverFor(ctx.mode);
        if (!(await approver.confirm("Approve this batch?"))) {
          audit.append({ action: "deny", decision: plan.decision, inputs, outcome: { by: who.user } });
          throw new LanesError("approval", "you denied the batch");
        }
        audit.append({
          action: "approve",
          decision: plan.decision,
          inputs,
          outcome: { by: who.user, how: "interactive" },
        });
      } else if (answer.how === "yes") {
        audit.append({ action: "approve", decision: plan.decision, inputs, outcome: { by: answer.by, how: "yes" } });
      } else audit.append({ action: "plan", decision: plan.decision, inputs });
    }

    const batchId = resumed?.id ?? `b${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
    if (!resumed)
      ledger.batchStore.create({
        id: batchId,
        file,
        name,
        capUsd: b.budget.capUsd,
        tasks: plan.tasks.map((t) => ({ repo: t.repo, task: t.task })),
      });
    else ledger.batchStore.setStatus(batchId, "running");
    const concurrency = Math.min(Number(ctx.opts.concurrency ?? b.concurrency), lane.concurrency);
    if (ctx.mode.kind !== "json")
      ctx.out.info(
        `batch ${batchId}: ${plan.tasks.length} tasks, concurrency ${concurrency}${resumed ? " (resumed)" : ""}` +
          ` — resume after a crash with: lanes batch --resume ${batchId}`,
      );
    let done = 0;
    const live =
      ctx.mode.kind === "interactive"
        ? (await import("../../ui/render-batch.js")).liveBatch(plan.tasks, b.budget.capUsd)
        : undefined;
    const emit = (e: TaskEvent | TaskRunEvent) => {
      if (ctx.mode.kind === "json") return writeEvent(e);
      // The views show the tasks; a task's own run events are for --json (and its trajectory).
      if (e.type === "task_event") return;
      if (live) return live.emit(e);
      if (e.status !== "running") done++;
      ctx.out.info(`[${done}/${plan.tasks.length}] #${e.idx} ${e.repo.split("/").pop()} ${e.status}${taskFacts(e)}`);
    };
    // --apply compares each repository's tree with its state now, so a changed tree is never overwritten.
    const before = new Map<string, string>();
    if (ctx.opts.apply)
      for (const t of plan.tasks) if (!before.has(t.repo)) before.set(t.repo, await treeState(t.repo));
    await reapAll(config); // what killed lanes processes left on the hosts
    await runBatch({
      config,
      batchId,
      tasks: plan.tasks,
      ledger,
      adapters,
      audit,
      capUsd: b.budget.capUsd,
      concurrency: Math.min(Number(ctx.opts.concurrency ?? b.concurrency) || 1, lane.concurrency),
      hosts: b.hosts ?? [config.sandbox.profiles[lane.sandbox]!.host],
      failFast: ctx.opts.failFast === true,
      signal: ac.signal,
      emit,
    });
    await live?.done();

    const rows = ledger.batchStore.tasks(batchId);
    const applied =
      ctx.opts.apply || ctx.opts.branch ? await bringBatchHome(ctx, plan, rows, before, audit) : undefined;
    const report = buildReport(batchId, name, plan, rows, applied);
    ledger.batchStore.setStatus(batchId, ac.signal.aborted ? "interrupted" : "done");
    const dir = join(dataDir(), "batches", batchId);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
    const md = markdown(report);
    writeFileSync(join(dir, "report.md"), md);
    if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, md);
    // Workflow commands are read from stderr too: stdout stays the report (or the JSON events).
    if (process.env.GITHUB_ACTIONS === "true") for (const a of annotations(report)) process.stderr.write(`${a}\n`);
    if (ctx.mode.kind === "json") writeEvent({ type: "batch_end", ...report, reportDir: dir });
    else process.stdout.write(`${summaryText(report)}report: ${dir}/report.md\n`);
    return exitCodeForBatch({
      interrupted: ac.signal.aborted,
      budgetStopped: rows.some((r) => r.status === "not_started" && r.detail === "budget"),
      allSucceeded:
        rows.every((r) => r.status === "succeeded") &&
        [...(applied?.values() ?? [])].every((a) => a.every((x) => x.ok || x.reason === NO_CHANGES)),
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    ledger.close();
  }
}

function show(ctx: CommandContext<BatchOpts>, p: BatchPlan): void {
  const out: BatchPlanEvent = {
    type: "batch_plan",
    lane: p.lane,
    totals: p.totals,
    quota: p.quota,
    denied: p.denied,
    decision: p.decision,
    tasks: p.tasks.map((t) => ({
      idx: t.idx,
      repo: t.repo,
      template: t.template,
      p50Usd: t.plan.cost.p50Usd,
      p90Usd: t.plan.cost.p90Usd,
      capUsd: t.plan.cost.capUsd,
      class: t.plan.cost.class,
      verdict: t.plan.decision.verdict,
      endpoint: t.plan.endpoint.id,
      check: t.check ?? null,
      ...(t.configSource ? { config: t.configSource } : {}),
    })),
  };
  if (ctx.mode.kind === "json") {
    writeEvent(out);
    return;
  }
  const lines = [
    `batch plan: ${p.totals.tasks} tasks in lane ${p.lane}; ${p.totals.class} ${p.totals.label}` +
      ` ${money(p.totals.p50Usd)} – ${money(p.totals.p90Usd)} (sum of p50–p90); caps ${money(p.totals.capsUsd)};` +
      ` batch budget ${money(p.totals.budgetUsd)}`,
    ...p.quota.map(
      (q) =>
        `  quota ${q.bucket}: used ${q.used.toFixed(2)} + held ${q.held.toFixed(2)} + batch up to ${q.cap.toFixed(2)} of ${q.limit} ${q.kind} (${q.level})`,
    ),
    ...p.tasks.map(
      (t) =>
        `  #${t.idx} ${t.repo}: ${t.plan.cost.class} ${money(t.plan.cost.p50Usd)}–${money(t.plan.cost.p90Usd)},` +
        ` cap ${money(t.plan.cost.capUsd)}, ${t.plan.decision.verdict}` +
        `${t.check ? `; check \`${t.check}\`` : ""}${t.configSource ? ` (config ${t.configSource})` : ""}`,
    ),
    `decision ${p.decision.verdict.toUpperCase()}`,
    ...p.decision.reasons.map(
      (r) => `  ${r.level === "hard" ? "✗" : r.level === "soft" ? "?" : "✓"} ${r.rule} (${r.level}): ${r.message}`,
    ),
  ];
  process.stderr.write(`${lines.join("\n")}\n`);
}

/** " on host $0.012, 5 steps, 3.1 s (detail)": whatever the event knows. */
function taskFacts(e: TaskEvent): string {
  const parts = [
    e.host ? ` on ${e.host}` : "",
    e.costUsd !== undefined ? ` ${money(e.costUsd)}` : "",
    e.steps !== undefined ? `, ${e.steps} steps` : "",
    e.durationMs !== undefined ? `, ${(e.durationMs / 1000).toFixed(1)} s` : "",
    e.detail ? ` (${e.detail})` : "",
  ];
  return parts.join("");
}
