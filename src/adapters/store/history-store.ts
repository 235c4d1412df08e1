/** Estimate history: what past runs of a lane and task template took (steps, tokens, time, cost). */
import type { Db } from "./db.js";
import type { HistoryKey, HistoryRow, HistoryStorePort } from "../../core/ports.js";

export class HistoryStore implements HistoryStorePort {
  constructor(private readonly s: Db) {}

  add(row: HistoryRow): void {
    this.s
      .sql(
        "INSERT INTO history (at, lane, template, tier, steps, completion_per_step, observation_per_step," +
          " seconds_per_step, cost_usd, prompt_tps, completion_tps, endpoint, cached_share)" +
          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        Date.now(),
        row.lane,
        row.template,
        row.tier,
        row.steps,
        row.completionPerStep,
        row.observationPerStep,
        row.secondsPerStep,
        row.costUsd,
        row.promptTps ?? null,
        row.completionTps ?? null,
        row.endpoint ?? null,
        row.cachedShare ?? null,
      );
  }

  /** The last `limit` runs matching the key (every given part), newest first. */
  recent(key: HistoryKey, limit = 50): HistoryRow[] {
    const parts = (["lane", "tier", "endpoint", "template"] as const).filter((k) => key[k] !== undefined);
    const where = parts.length ? `WHERE ${parts.map((k) => `${k} = ?`).join(" AND ")}` : "";
    return (
      this.s
        .sql(`SELECT * FROM history ${where} ORDER BY id DESC LIMIT ?`)
        .all(...parts.map((k) => key[k]!), limit) as Record<string, number | string | null>[]
    ).map((r) => ({
      lane: String(r.lane),
      template: String(r.template),
      tier: String(r.tier),
      steps: Number(r.steps),
      completionPerStep: Number(r.completion_per_step),
      observationPerStep: Number(r.observation_per_step),
      secondsPerStep: Number(r.seconds_per_step),
      costUsd: r.cost_usd === null ? null : Number(r.cost_usd),
      promptTps: r.prompt_tps === null ? undefined : Number(r.prompt_tps),
      completionTps: r.completion_tps === null ? undefined : Number(r.completion_tps),
      endpoint: r.endpoint === null ? undefined : String(r.endpoint),
      cachedShare: r.cached_share === null ? undefined : Number(r.cached_share),
      at: Number(r.at),
    }));
  }
}
