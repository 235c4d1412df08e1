/**
 * One plan for a whole batch: every task planned as `lanes plan` would, then summed — p50, p90,
 * caps, the class of the whole — with each quota bucket's impact and one decision. Tasks that
 * policy denies on their own are listed and left out; the rest share one approval.
 */
import { COST_CLASS_LABEL, costClassOf, type CostClass } from "../core/cost.js";
import type { Decision, Reason, Verdict } from "../core/policy.js";
import { levelOf } from "../core/quota.js";
import type { Config } from "../adapters/config/schema.js";
import type { Store } from "../core/ports.js";
import type { Adapters } from "./ports.js";
import { resolveTask } from "./templates.js";
import type { BatchFile, BatchItem } from "./batch-file.js";
import type { Identity } from "./identity.js";
import { newPlanMemo, planTask, type Plan } from "./plan-task.js";
import type { TaskConfig } from "./batch-config.js";
import type { Setup } from "./setup-step.js";
import { resolveAgent, type ExternalAgent } from "../adapters/agents/adapters.js";
import { LanesError } from "../core/errors.js";

export interface BatchTask {
  idx: number;
  repo: string;
  task: string;
  template: string;
  check: string | undefined;
  plan: Plan;
  /** The configuration this task runs under (batch-config.ts), and the repository file that shaped it. */
  config: Config;
  configSource?: string;
  /** The task template's setup, over the lane's. */
  setup?: Setup | undefined;
  /** An external agent behind the gateway (the batch's, else the lane's); absent: lanes' own loop. */
  agent?: ExternalAgent | undefined;
}

export interface BatchPlan {
  lane: string;
  tasks: BatchTask[];
  totals: {
    tasks: number;
    p50Usd: number | null;
    p90Usd: number | null;
    capsUsd: number;
    budgetUsd: number;
    class: CostClass | "unpriced";
    label: string;
  };
  quota: {
    bucket: string;
    unit: string;
    used: number;
    held: number;
    projected: number;
    cap: number;
    limit: number;
    kind: string;
    level: string;
    resetsAt: string;
  }[];
  denied: { idx: number; repo: string; reasons: Reason[] }[];
  decision: Decision;
}

const ORDER: Verdict[] = ["allow", "ask", "delay", "deny"];

export async function planBatch(o: {
  config: Config;
  batch: BatchFile;
  items: BatchItem[];
  who: Identity;
  ledger: Store;
  adapters: Adapters;
  lane: string;
  tier?: string | undefined;
  /** Each task's configuration (batch-config.ts); default: the batch's for every task. */
  configFor?: (repo: string) => TaskConfig;
  /** The batch's agent (`--agent`, `--agent-cmd`, the batch file's), over each lane's. */
  agent?: ExternalAgent | undefined;
}): Promise<BatchPlan> {
  const tasks: BatchTask[] = [];
  const memo = newPlanMemo();
  for (const [idx, item] of o.items.entries()) {
    const { config, source } = o.configFor?.(item.repo) ?? { config: o.config };
    const t = await resolveTask(
      item.repo,
      item.task,
      Object.entries(item.set).map(([k, v]) => `${k}=${v}`),
    );
    const agent = o.agent ?? resolveAgent(config.lanes[o.lane]?.agent, undefined);
    const plan = await planTask({
      agent,
      adapters: o.adapters,
      config,
      root: item.repo,
      task: t.text,
      template: t.template,
      lane: o.lane,
      tier: o.tier,
      who: o.who,
      ledger: o.ledger,
      memo,
      setup: t.setup,
      ...(item.endpoint ? { endpointId: item.endpoint } : {}),
    });
    if (item.endpoint && plan.endpoint.id !== item.endpoint)
      throw new LanesError(
        "usage",
        `task #${idx} (${item.repo}): no endpoint "${item.endpoint}" in tier ${plan.tier}`,
        {
          hint: "`lanes endpoints ls` lists the endpoints of each tier",
        },
      );
    tasks.push({
      idx,
      repo: item.repo,
      task: t.text,
      template: t.template,
      // The most specific wins: the task's, the batch's, the template's, then the lane's.
      check: item.check ?? o.batch.check ?? t.check ?? config.lanes[o.lane]?.check,
      plan,
      config,
      setup: t.setup,
      agent,
      ...(source ? { configSource: source } : {}),
    });
  }
  const runnable = tasks.filter((t) => t.plan.decision.verdict !== "deny");
  const denied = tasks
    .filter((t) => t.plan.decision.verdict === "deny")
    .map((t) => ({ idx: t.idx, repo: t.repo, reasons: t.plan.decision.reasons.filter((r) => r.level === "hard") }));
  const sum = (f: (t: BatchTask) => number | null) =>
    runnable.some((t) => f(t) === null) ? null : runnable.reduce((n, t) => n + (f(t) ?? 0), 0);
  const p90 = sum((t) => t.plan.cost.p90Usd);
  const capsUsd = runnable.reduce((n, t) => n + t.plan.cost.capUsd, 0);
  const cls = p90 === null ? "unpriced" : costClassOf(p90, o.config.costClasses);

  // Bucket impact: the batch can spend at most min(its budget, the sum of its tasks' caps).
  const worst = Math.min(o.batch.budget.capUsd, capsUsd);
  const quota = (tasks[0]?.plan.quota ?? []).map((q) => {
    const projected =
      q.unit === "usd"
        ? (p90 ?? worst)
        : runnable.reduce((n, t) => n + (t.plan.quota.find((x) => x.bucket === q.bucket)?.projected ?? 0), 0);
    const cap =
      q.unit === "usd"
        ? worst
        : runnable.reduce((n, t) => n + (t.plan.quota.find((x) => x.bucket === q.bucket)?.cap ?? 0), 0);
    return {
      bucket: q.bucket,
      unit: q.unit,
      used: q.used,
      held: q.held,
      projected,
      cap,
      limit: q.limit,
      kind: q.kind,
      level: levelOf(q.used, q.held, q.limit, o.config.rules.quota),
      resetsAt: q.resetsAt,
    };
  });

  const reasons: (Reason & { verdict: Verdict })[] = [];
  const seen = new Set<string>();
  for (const t of runnable)
    for (const r of t.plan.decision.reasons) {
      // Per-task quota reasons are replaced by the batch's own below; the rest are merged.
      if (r.rule.startsWith("quota.") || seen.has(r.rule)) continue;
      seen.add(r.rule);
      reasons.push({
        ...r,
        verdict:
          r.level === "hard"
            ? "deny"
            : r.level === "soft"
              ? r.rule.startsWith("lane.") || r.rule.startsWith("endpoint.")
                ? "delay"
                : "ask"
              : "allow",
      });
    }
  for (const q of quota) {
    if (q.kind === "hard" && q.used + q.held + q.cap > q.limit)
      reasons.push({
        verdict: "deny",
        rule: "quota.hard",
        level: "hard",
        message:
          `the batch can spend ${q.cap.toFixed(2)} ${q.unit}, which would cross the hard limit of ${q.bucket}` +
          ` (used ${q.used.toFixed(2)} + held ${q.held.toFixed(2)} of ${q.limit})`,
      });
    else if (q.kind === "soft" && q.used + q.held + q.projected > q.limit)
      reasons.push({
        verdict: "ask",
        rule: "quota.soft",
        level: "soft",
        message: `the batch's p90 would cross the soft limit of ${q.bucket}`,
      });
  }
  if (denied.length)
    reasons.push({
      verdict: "allow",
      rule: "batch.tasks_denied",
      level: "advisory",
      message: `${denied.length} task(s) denied on their own and left out: ${denied.map((d) => `#${d.idx}`).join(", ")}`,
    });
  if (!runnable.length)
    reasons.push({ verdict: "deny", rule: "batch.nothing_to_run", level: "hard", message: "every task is denied" });
  // Concurrency is the scheduler's job in a batch: a lane that is full only delays tasks.
  const verdict = reasons
    .filter((r) => r.rule !== "lane.concurrency")
    .reduce<Verdict>((v, r) => (ORDER.indexOf(r.verdict) > ORDER.indexOf(v) ? r.verdict : v), "allow");
  return {
    lane: o.lane,
    tasks,
    totals: {
      tasks: tasks.length,
      p50Usd: sum((t) => t.plan.cost.p50Usd),
      p90Usd: p90,
      capsUsd,
      budgetUsd: o.batch.budget.capUsd,
      class: cls,
      label: cls === "unpriced" ? "unpriced" : COST_CLASS_LABEL[cls],
    },
    quota,
    denied,
    decision: { verdict, reasons: reasons.map(({ verdict: _v, ...r }) => r) },
  };
}
