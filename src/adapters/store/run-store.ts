/** Finished runs: what `lanes runs ls|show` lists (status, check, cost, tokens, where its files are). */
import type { RunRow, RunStorePort } from "../../core/ports.js";
import type { Db } from "./db.js";

// Saving a run again replaces it (SQLite and PostgreSQL both speak ON CONFLICT … excluded).
const UPDATE_ALL = [
  "created_at",
  "lane",
  "tier",
  "task",
  "status",
  "check_result",
  "cost_usd",
  "p90_usd",
  "cap_usd",
  "steps",
  "duration_ms",
  "hold_id",
  "dir",
  "tokens",
  "unpriced",
  "overage_usd",
]
  .map((c) => `${c} = excluded.${c}`)
  .join(", ");

export class RunStore implements RunStorePort {
  constructor(private readonly s: Db) {}

  save(r: RunRow): void {
    this.s
      .sql(
        "INSERT INTO runs (id, created_at, lane, tier, task, status, check_result, cost_usd," +
          " p90_usd, cap_usd, steps, duration_ms, hold_id, dir, tokens, unpriced, overage_usd, user_name, team, project," +
          " p50_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET " +
          UPDATE_ALL,
      )
      .run(
        r.id,
        r.createdAt,
        r.lane,
        r.tier,
        r.task,
        r.status,
        r.check,
        r.costUsd,
        r.p90Usd,
        r.capUsd,
        r.steps,
        r.durationMs,
        r.holdId,
        r.dir,
        r.tokens,
        r.unpriced ? 1 : 0,
        r.overageUsd,
        r.user ?? null,
        r.team ?? null,
        r.project ?? null,
        r.p50Usd ?? null,
      );
  }

  list(limit = 50): RunRow[] {
    return (
      this.s.sql("SELECT * FROM runs ORDER BY created_at DESC LIMIT ?").all(limit) as Record<string, unknown>[]
    ).map(toRun);
  }

  since(sinceMs: number): RunRow[] {
    return (
      this.s.sql("SELECT * FROM runs WHERE created_at >= ? ORDER BY created_at").all(sinceMs) as Record<
        string,
        unknown
      >[]
    ).map(toRun);
  }

  find(id: string): RunRow | undefined {
    // A prefix is matched literally: `%` and `_` in it are escaped.
    const prefix = `${id.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const r = this.s
      .sql("SELECT * FROM runs WHERE id = ? OR id LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT 1")
      .get(id, prefix) as Record<string, unknown> | undefined;
    return r ? toRun(r) : undefined;
  }
}

function toRun(r: Record<string, unknown>): RunRow {
  return {
    id: String(r.id),
    createdAt: Number(r.created_at),
    lane: String(r.lane),
    tier: String(r.tier),
    task: String(r.task),
    status: String(r.status),
    check: String(r.check_result),
    costUsd: Number(r.cost_usd),
    p90Usd: r.p90_usd === null ? null : Number(r.p90_usd),
    capUsd: Number(r.cap_usd),
    steps: Number(r.steps),
    durationMs: Number(r.duration_ms),
    holdId: r.hold_id === null ? null : String(r.hold_id),
    dir: String(r.dir),
    tokens: Number(r.tokens ?? 0),
    unpriced: Number(r.unpriced ?? 0) === 1,
    overageUsd: Number(r.overage_usd ?? 0),
    ...(r.user_name ? { user: String(r.user_name) } : {}),
    ...(r.team ? { team: String(r.team) } : {}),
    ...(r.project ? { project: String(r.project) } : {}),
    p50Usd: r.p50_usd === null || r.p50_usd === undefined ? null : Number(r.p50_usd),
  };
}
