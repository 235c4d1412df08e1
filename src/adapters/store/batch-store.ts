/** Batches and their tasks, so an interrupted batch can be resumed (`lanes batch --resume`). */
import type { BatchStorePort, BatchTaskRow } from "../../core/ports.js";
import type { Db } from "./db.js";

export class BatchStore implements BatchStorePort {
  constructor(private readonly s: Db) {}

  create(b: { id: string; file: string; name: string; capUsd: number; tasks: { repo: string; task: string }[] }): void {
    this.s.atomically(() => {
      this.s
        .sql("INSERT INTO batches (id, created_at, file, name, cap_usd, status) VALUES (?, ?, ?, ?, ?, 'running')")
        .run(b.id, Date.now(), b.file, b.name, b.capUsd);
      b.tasks.forEach((t, i) =>
        this.s
          .sql("INSERT INTO batch_tasks (batch_id, idx, repo, task, status) VALUES (?, ?, ?, ?, 'pending')")
          .run(b.id, i, t.repo, t.task),
      );
    });
  }

  get(
    id: string,
  ): { id: string; file: string; name: string; capUsd: number; status: string; createdAt: number } | undefined {
    const r = this.s.sql("SELECT * FROM batches WHERE id = ?").get(id) as Record<string, unknown> | undefined;
    return r
      ? {
          id: String(r.id),
          file: String(r.file),
          name: String(r.name),
          capUsd: Number(r.cap_usd),
          status: String(r.status),
          createdAt: Number(r.created_at),
        }
      : undefined;
  }

  setStatus(id: string, status: string): void {
    this.s.sql("UPDATE batches SET status = ? WHERE id = ?").run(status, id);
  }

  tasks(id: string): BatchTaskRow[] {
    return (
      this.s.sql("SELECT * FROM batch_tasks WHERE batch_id = ? ORDER BY idx").all(id) as Record<string, unknown>[]
    ).map((r) => ({
      batchId: String(r.batch_id),
      idx: Number(r.idx),
      repo: String(r.repo),
      task: String(r.task),
      status: String(r.status),
      runId: (r.run_id as string | null) ?? null,
      holdId: (r.hold_id as string | null) ?? null,
      host: (r.host as string | null) ?? null,
      costUsd: Number(r.cost_usd),
      check: (r.check_result as string | null) ?? null,
      patch: (r.patch as string | null) ?? null,
      detail: (r.detail as string | null) ?? null,
      attempts: Number(r.attempts),
    }));
  }

  updateTask(
    batchId: string,
    idx: number,
    f: Partial<
      Pick<BatchTaskRow, "status" | "runId" | "holdId" | "host" | "costUsd" | "check" | "patch" | "detail">
    > & { attemptStarted?: boolean },
  ): void {
    const cols: Record<string, string> = {
      status: "status",
      runId: "run_id",
      holdId: "hold_id",
      host: "host",
      costUsd: "cost_usd",
      check: "check_result",
      patch: "patch",
      detail: "detail",
    };
    const sets: string[] = [];
    const vals: unknown[] = [];
    for (const [k, col] of Object.entries(cols)) {
      if (k in f) {
        sets.push(`${col} = ?`);
        vals.push((f as Record<string, unknown>)[k] ?? null);
      }
    }
    if (f.attemptStarted) sets.push("attempts = attempts + 1");
    if (!sets.length) return;
    this.s.sql(`UPDATE batch_tasks SET ${sets.join(", ")} WHERE batch_id = ? AND idx = ?`).run(...vals, batchId, idx);
  }
}
