/**
 * Running a batch: a pool of workers over the tasks, each task in its own sandbox with its own
 * hold, spread over the batch's hosts up to each host's capacity. Scheduling stops when the
 * batch budget cannot cover the next task's cap (the rest: not_started, budget). State lives in
 * the ledger, so `--resume` after a crash runs only what did not finish — and charges a crashed
 * attempt's hold its worst case, never forgetting it.
 */
import type { TaskEvent, TaskRunEvent, TaskStatus } from "../core/run-events.js";
import type { Config } from "../adapters/config/schema.js";
import type { AuditTrail, Store } from "../core/ports.js";
import type { Adapters } from "./ports.js";
import type { BatchTask } from "./batch-plan.js";
import { requireEndpoint, runAttempt, succeeded, type Attempt } from "./run-task.js";

export type { TaskStatus } from "../core/run-events.js";

export interface BatchRun {
  config: Config;
  batchId: string;
  tasks: BatchTask[];
  ledger: Store;
  audit: AuditTrail;
  adapters: Adapters;
  capUsd: number;
  concurrency: number;
  hosts: string[];
  failFast: boolean;
  signal: AbortSignal;
  emit: (e: TaskEvent | TaskRunEvent) => void;
}

export async function runBatch(b: BatchRun): Promise<void> {
  const rows = new Map(b.ledger.batchStore.tasks(b.batchId).map((r) => [r.idx, r]));
  let spent = 0;
  /** What earlier (crashed) attempts of a task cost: kept, and added to its final cost. */
  const earlier = new Map<number, number>();
  const queue: BatchTask[] = [];
  for (const t of b.tasks) {
    const row = rows.get(t.idx);
    if (row && ["succeeded", "failed", "denied"].includes(row.status)) {
      spent += row.costUsd; // finished before: never run twice
      continue;
    }
    if (row?.status === "running" && row.holdId) {
      // The process that ran it is gone: its hold is charged its worst case, then it runs again.
      b.ledger.expireHold(row.holdId);
      const charged = row.costUsd + b.ledger.chargedOn(row.holdId);
      spent += charged;
      earlier.set(t.idx, charged);
      b.ledger.batchStore.updateTask(b.batchId, t.idx, {
        status: "pending",
        costUsd: charged,
        detail: `a crashed attempt (${row.runId}) was charged $${charged.toFixed(4)}`,
      });
    }
    if (t.plan.decision.verdict === "deny") {
      b.ledger.batchStore.updateTask(b.batchId, t.idx, {
        status: "denied",
        detail: t.plan.decision.reasons
          .filter((r) => r.level === "hard")
          .map((r) => r.rule)
          .join(", "),
      });
      b.emit({ type: "task", batchId: b.batchId, idx: t.idx, repo: t.repo, status: "denied" });
      continue;
    }
    queue.push(t);
  }

  // Tasks share a configuration object per repository: one set of endpoints for each.
  const endpointSets = new Map<Config, ReturnType<Adapters["endpoints"]>>();
  const endpointsOf = (config: Config) => {
    if (!endpointSets.has(config)) endpointSets.set(config, b.adapters.endpoints(config));
    return endpointSets.get(config)!;
  };
  const inUse = new Map(b.hosts.map((h) => [h, 0]));
  let reserved = 0;
  let stop: string | undefined;
  // Taking a host slot is synchronous (check and count in one go), so two workers never take the last one.
  const takeHost = async (): Promise<string | undefined> => {
    for (;;) {
      for (const h of b.hosts) {
        if ((inUse.get(h) ?? 0) < (b.config.hosts[h]?.capacity ?? 1)) {
          inUse.set(h, (inUse.get(h) ?? 0) + 1);
          return h;
        }
      }
      if (b.signal.aborted) return undefined;
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const worker = async () => {
    for (;;) {
      const t = queue.shift();
      if (!t) return;
      const cap = t.plan.cost.capUsd;
      if (stop || b.signal.aborted || spent + reserved + cap > b.capUsd + 1e-9) {
        stop ??= b.signal.aborted ? "interrupted" : "budget";
        b.ledger.batchStore.updateTask(b.batchId, t.idx, { status: "not_started", detail: stop });
        b.emit({ type: "task", batchId: b.batchId, idx: t.idx, repo: t.repo, status: "not_started", detail: stop });
        continue;
      }
      reserved += cap; // counted before any await, so the budget check above cannot race
      const host = await takeHost();
      if (!host) {
        reserved -= cap;
        queue.unshift(t);
        continue;
      }
      b.ledger.batchStore.updateTask(b.batchId, t.idx, { status: "running", host, attemptStarted: true });
      b.emit({ type: "task", batchId: b.batchId, idx: t.idx, repo: t.repo, status: "running", host });
      let holdId: string | undefined;
      const endpoints = endpointsOf(t.config);
      try {
        const a = await runAttempt({
          config: t.config,
          root: t.repo,
          plan: t.plan,
          endpoint: requireEndpoint(endpoints, t.plan),
          endpoints,
          ledger: b.ledger,
          adapters: b.adapters,
          audit: b.audit,
          emit: (event) => b.emit({ type: "task_event", batchId: b.batchId, idx: t.idx, event }),
          signal: b.signal,
          check: t.check,
          setup: t.setup,
          agent: t.agent,
          hostName: host,
          onStart: (runId, hold) => {
            holdId = hold;
            b.ledger.batchStore.updateTask(b.batchId, t.idx, { runId, holdId: hold });
          },
        });
        spent += a.costUsd;
        const costUsd = (earlier.get(t.idx) ?? 0) + a.costUsd;
        const status: TaskStatus =
          a.agent.status === "interrupted" ? "interrupted" : succeeded(a) ? "succeeded" : "failed";
        b.ledger.batchStore.updateTask(b.batchId, t.idx, {
          status,
          costUsd,
          check: a.check,
          patch: a.patch,
          detail:
            failureDetail(a, t.check) ??
            (a.agent.status === "finished" ? a.agent.summary.slice(0, 300) : a.agent.status),
        });
        b.emit({
          type: "task",
          batchId: b.batchId,
          idx: t.idx,
          repo: t.repo,
          status,
          host,
          runId: a.runId,
          steps: a.agent.steps,
          check: a.check,
          costUsd,
          durationMs: a.durationMs,
          ...(status === "failed" ? { detail: failureDetail(a, t.check) ?? a.agent.status } : {}),
        });
        if (status === "failed" && b.failFast) stop = "fail-fast";
      } catch (err) {
        // Whatever the attempt was charged before it threw is spent: the batch budget counts it.
        const charged = holdId ? b.ledger.chargedOn(holdId) : 0;
        spent += charged;
        b.ledger.batchStore.updateTask(b.batchId, t.idx, {
          status: "failed",
          costUsd: (earlier.get(t.idx) ?? 0) + charged,
          detail: (err as Error).message.slice(0, 300),
        });
        b.emit({
          type: "task",
          batchId: b.batchId,
          idx: t.idx,
          repo: t.repo,
          status: "failed",
          host,
          detail: (err as Error).message,
        });
        if (b.failFast) stop = "fail-fast";
      } finally {
        reserved -= cap;
        inUse.set(host, (inUse.get(host) ?? 1) - 1);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, b.concurrency) }, worker));
}

/** Why a task failed, in the check's own words (its last line of output), not the agent's claim. */
function failureDetail(a: Attempt, check: string | undefined): string | undefined {
  if (a.check !== "failed") return undefined;
  const last = (a.checkOutput ?? "").trim().split("\n").pop()?.trim() ?? "";
  return `check \`${check ?? "?"}\` failed${last ? `: ${last.slice(0, 200)}` : ""}`;
}
