/**
 * The ledger: SQLite (WAL) in the data directory, safe across processes. Money moves in one
 * direction only — reserve (a hold on every bucket a run touches, all or nothing) → charge
 * (from held to used, never past the hold) → settle (release what was not charged) — each step
 * one BEGIN IMMEDIATE transaction, so concurrent runs can never overspend a bucket. A hold whose
 * process died is charged at its worst case when it expires, never released to zero.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { LanesError } from "../../core/errors.js";
import type { BucketSpec, BucketStatus, Unit } from "../../core/quota.js";
import type { AuditAnchor, AuditHead } from "./audit.js";
import { MIGRATIONS, type BatchTaskRow, type RunRow } from "./ledger-schema.js";

export type { BatchTaskRow, RunRow } from "./ledger-schema.js";

/** A hold is capped in the bucket units, and in tokens for an unpriced run. */
export type HoldUnit = Unit | "tokens";
export type Amounts = Partial<Record<HoldUnit, number>>;

export interface Hold {
  id: string;
  runId: string;
  lane: string;
  expiresAt: number;
  caps: Amounts;
}

export interface HoldState {
  id: string;
  status: "open" | "settled" | "expired";
  caps: Amounts;
  charged: Amounts;
}

export interface HistoryRow {
  lane: string;
  template: string;
  tier: string;
  steps: number;
  completionPerStep: number;
  observationPerStep: number;
  secondsPerStep: number;
  costUsd: number | null;
  promptTps?: number | undefined;
  completionTps?: number | undefined;
}

/** The run's hold cannot pay for this charge: nothing was charged. */
export class HoldExhausted extends LanesError {
  constructor(unit: string, asked: number, left: number) {
    super("quota", `the run's hold has ${left.toFixed(6)} ${unit} left; ${asked.toFixed(6)} was asked`, { details: { unit, asked, left } });
  }
}

export class Ledger implements AuditAnchor {
  /** Prepared statements, compiled once per SQL text (preparing costs more than running). */
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {}

  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) this.statements.set(text, (st = this.db.prepare(text)));
    return st;
  }

  static open(path: string): Ledger {
    mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: 10_000 });
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      // Versioned migrations, each step re-checking the version under the write lock: several
      // processes opening a new ledger at once must not run the same migration twice.
      const step = db.transaction(() => {
        const v = db.pragma("user_version", { simple: true }) as number;
        if (v >= MIGRATIONS.length) return false;
        db.exec(MIGRATIONS[v]!);
        db.pragma(`user_version = ${v + 1}`);
        return true;
      });
      while (step.immediate()) {
        /* next migration */
      }
    } catch (err) {
      throw explain(err, path);
    }
    const ledger = new Ledger(db, path);
    ledger.expire();
    return ledger;
  }

  close(): void {
    this.db.close();
  }

  /** Run `fn` in one write transaction (nested calls become savepoints). */
  atomically<T>(fn: () => T): T {
    return this.run(() => this.db.transaction(fn).immediate());
  }

  auditHead(): AuditHead | undefined {
    return this.sql("SELECT seq, hash FROM audit_head WHERE id = 1").get() as AuditHead | undefined;
  }

  setAuditHead(head: AuditHead): void {
    this.sql("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash").run(head.seq, head.hash);
  }

  /**
   * Reserve `caps` in every bucket (each bucket takes the amount of its unit). All or nothing:
   * if any hard bucket would go over its limit, nothing is held and the error names it.
   */
  reserve(opts: { runId: string; lane: string; buckets: BucketSpec[]; caps: Amounts; ttlMs: number; priceVersion?: string }): Hold {
    const id = `h_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
    const now = Date.now();
    const tx = this.db.transaction(() => {
      this.expire(now);
      for (const b of opts.buckets) this.upsertBucket(b);
      for (const b of opts.buckets) {
        const amount = opts.caps[b.unit] ?? 0;
        if (amount <= 0) continue;
        const row = this.sql("SELECT used, held, lim, kind, resets_at FROM buckets WHERE key = ?").get(b.key) as { used: number; held: number; lim: number; kind: string; resets_at: string };
        if (row.kind === "hard" && row.used + row.held + amount > row.lim + 1e-9) {
          throw new LanesError("quota", `quota ${b.key} cannot hold this run: used ${fmt(row.used, b.unit)} + held ${fmt(row.held, b.unit)} + this run's cap ${fmt(amount, b.unit)} > limit ${fmt(row.lim, b.unit)}`, {
            hint: `it resets ${row.resets_at}; lower the lane's cap, or raise the limit in lanes.yaml`,
            details: { bucket: b.key, used: row.used, held: row.held, limit: row.lim, requested: amount, resetsAt: row.resets_at },
          });
        }
      }
      this.sql("INSERT INTO holds (id, run_id, lane, created_at, expires_at, status, price_version) VALUES (?, ?, ?, ?, ?, 'open', ?)").run(id, opts.runId, opts.lane, now, now + opts.ttlMs, opts.priceVersion ?? null);
      for (const [unit, cap] of Object.entries(opts.caps)) this.sql("INSERT INTO hold_caps (hold_id, unit, cap) VALUES (?, ?, ?)").run(id, unit, cap);
      for (const b of opts.buckets) {
        const amount = opts.caps[b.unit] ?? 0;
        if (amount <= 0) continue;
        this.sql("UPDATE buckets SET held = held + ? WHERE key = ?").run(amount, b.key);
        this.sql("INSERT INTO hold_buckets (hold_id, bucket_key, unit, reserved) VALUES (?, ?, ?, ?)").run(id, b.key, b.unit, amount);
      }
    });
    this.run(() => tx.immediate());
    return { id, runId: opts.runId, lane: opts.lane, expiresAt: now + opts.ttlMs, caps: opts.caps };
  }

  /** Charge `amount` of `unit` against the hold, before the spending happens. Refuses past the cap. */
  charge(holdId: string, unit: HoldUnit, amount: number, note = ""): void {
    if (amount <= 0) return;
    const tx = this.db.transaction(() => {
      const hold = this.sql("SELECT status FROM holds WHERE id = ?").get(holdId) as { status: string } | undefined;
      if (!hold) throw new LanesError("failed", `no hold ${holdId}`);
      if (hold.status !== "open") throw new LanesError("quota", `hold ${holdId} is ${hold.status}; nothing more can be charged to it`);
      const cap = this.sql("SELECT cap, charged FROM hold_caps WHERE hold_id = ? AND unit = ?").get(holdId, unit) as { cap: number; charged: number } | undefined;
      const left = cap ? cap.cap - cap.charged : 0;
      if (amount > left + 1e-12) throw new HoldExhausted(unit, amount, left);
      this.sql("UPDATE hold_caps SET charged = charged + ? WHERE hold_id = ? AND unit = ?").run(amount, holdId, unit);
      for (const hb of this.sql("SELECT bucket_key FROM hold_buckets WHERE hold_id = ? AND unit = ?").all(holdId, unit) as { bucket_key: string }[]) {
        this.sql("UPDATE buckets SET used = used + ?, held = held - ? WHERE key = ?").run(amount, amount, hb.bucket_key);
        this.sql("UPDATE hold_buckets SET charged = charged + ? WHERE hold_id = ? AND bucket_key = ?").run(amount, holdId, hb.bucket_key);
      }
      this.sql("INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (?, ?, ?, ?, ?)").run(holdId, Date.now(), unit, amount, note);
    });
    this.run(() => tx.immediate());
  }

  /**
   * Give back part of an earlier charge on an open hold (a call charged at its worst case cost
   * less). The amount returns from used to held, so it stays reserved for this run.
   */
  refund(holdId: string, unit: HoldUnit, amount: number, note = ""): void {
    if (amount <= 0) return;
    const tx = this.db.transaction(() => {
      const hold = this.sql("SELECT status FROM holds WHERE id = ?").get(holdId) as { status: string } | undefined;
      if (hold?.status !== "open") throw new LanesError("quota", `hold ${holdId} is not open; nothing can be refunded to it`);
      const cap = this.sql("SELECT charged FROM hold_caps WHERE hold_id = ? AND unit = ?").get(holdId, unit) as { charged: number } | undefined;
      const back = Math.min(amount, cap?.charged ?? 0);
      if (back <= 0) return;
      this.sql("UPDATE hold_caps SET charged = charged - ? WHERE hold_id = ? AND unit = ?").run(back, holdId, unit);
      for (const hb of this.sql("SELECT bucket_key FROM hold_buckets WHERE hold_id = ? AND unit = ?").all(holdId, unit) as { bucket_key: string }[]) {
        this.sql("UPDATE buckets SET used = used - ?, held = held + ? WHERE key = ?").run(back, back, hb.bucket_key);
        this.sql("UPDATE hold_buckets SET charged = charged - ? WHERE hold_id = ? AND bucket_key = ?").run(back, holdId, hb.bucket_key);
      }
      this.sql("INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (?, ?, ?, ?, ?)").run(holdId, Date.now(), unit, -back, note);
    });
    this.run(() => tx.immediate());
  }

  /** Sum of a hold's charge rows (refunds included). */
  chargedOn(holdId: string, unit: HoldUnit = "usd"): number {
    return (this.sql("SELECT COALESCE(SUM(amount), 0) AS s FROM charges WHERE hold_id = ? AND unit = ?").get(holdId, unit) as { s: number }).s;
  }

  /** Release what the hold did not charge. Idempotent: settling twice is settling once. */
  settle(holdId: string): HoldState {
    const tx = this.db.transaction(() => {
      const hold = this.sql("SELECT status FROM holds WHERE id = ?").get(holdId) as { status: string } | undefined;
      if (!hold) throw new LanesError("failed", `no hold ${holdId}`);
      if (hold.status === "open") {
        for (const hb of this.sql("SELECT bucket_key, reserved, charged FROM hold_buckets WHERE hold_id = ?").all(holdId) as { bucket_key: string; reserved: number; charged: number }[]) {
          this.sql("UPDATE buckets SET held = held - ? WHERE key = ?").run(hb.reserved - hb.charged, hb.bucket_key);
        }
        this.sql("UPDATE holds SET status = 'settled', settled_at = ? WHERE id = ?").run(Date.now(), holdId);
      }
    });
    this.run(() => tx.immediate());
    return this.hold(holdId);
  }

  /** Expired holds (their process died or hung) are charged what they reserved: the worst case. */
  expire(now = Date.now()): number {
    const expired = this.sql("SELECT id FROM holds WHERE status = 'open' AND expires_at < ?").all(now) as { id: string }[];
    if (!expired.length) return 0;
    const tx = this.db.transaction(() => {
      for (const { id } of this.sql("SELECT id FROM holds WHERE status = 'open' AND expires_at < ?").all(now) as { id: string }[]) {
        for (const c of this.sql("SELECT unit, cap, charged FROM hold_caps WHERE hold_id = ?").all(id) as { unit: string; cap: number; charged: number }[]) {
          if (c.cap - c.charged > 0) this.sql("INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (?, ?, ?, ?, 'expired: charged at worst case')").run(id, now, c.unit, c.cap - c.charged);
        }
        this.sql("UPDATE hold_caps SET charged = cap WHERE hold_id = ?").run(id);
        for (const hb of this.sql("SELECT bucket_key, reserved, charged FROM hold_buckets WHERE hold_id = ?").all(id) as { bucket_key: string; reserved: number; charged: number }[]) {
          const rest = hb.reserved - hb.charged;
          this.sql("UPDATE buckets SET used = used + ?, held = held - ? WHERE key = ?").run(rest, rest, hb.bucket_key);
        }
        this.sql("UPDATE hold_buckets SET charged = reserved WHERE hold_id = ?").run(id);
        this.sql("UPDATE holds SET status = 'expired', settled_at = ? WHERE id = ?").run(now, id);
      }
    });
    this.run(() => tx.immediate());
    return expired.length;
  }

  hold(holdId: string): HoldState {
    const h = this.sql("SELECT status FROM holds WHERE id = ?").get(holdId) as { status: HoldState["status"] } | undefined;
    if (!h) throw new LanesError("failed", `no hold ${holdId}`);
    const caps: Amounts = {};
    const charged: Amounts = {};
    for (const c of this.sql("SELECT unit, cap, charged FROM hold_caps WHERE hold_id = ?").all(holdId) as { unit: Unit; cap: number; charged: number }[]) {
      caps[c.unit] = c.cap;
      charged[c.unit] = c.charged;
    }
    return { id: holdId, status: h.status, caps, charged };
  }

  /** Current state of the given buckets (defined from config: limits updated, missing ones at zero). */
  status(buckets: BucketSpec[]): BucketStatus[] {
    return buckets.map((b) => {
      const row = this.sql("SELECT used, held FROM buckets WHERE key = ?").get(b.key) as { used: number; held: number } | undefined;
      return { key: b.key, unit: b.unit, used: row?.used ?? 0, held: row?.held ?? 0, limit: b.limit, kind: b.kind, resetsAt: b.resetsAt };
    });
  }

  /** Open holds of a lane: its runs in flight, for the concurrency rule. */
  running(lane: string): number {
    return (this.sql("SELECT COUNT(*) AS n FROM holds WHERE status = 'open' AND lane = ? AND expires_at >= ?").get(lane, Date.now()) as { n: number }).n;
  }

  /** Sum of all charge rows (for reconciliation). */
  totalCharged(unit: Unit = "usd"): number {
    return (this.sql("SELECT COALESCE(SUM(amount), 0) AS s FROM charges WHERE unit = ?").get(unit) as { s: number }).s;
  }

  addHistory(row: HistoryRow): void {
    this.db
      .prepare("INSERT INTO history (at, lane, template, tier, steps, completion_per_step, observation_per_step, seconds_per_step, cost_usd, prompt_tps, completion_tps) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(Date.now(), row.lane, row.template, row.tier, row.steps, row.completionPerStep, row.observationPerStep, row.secondsPerStep, row.costUsd, row.promptTps ?? null, row.completionTps ?? null);
  }

  /** The last `limit` runs of this lane and task template, newest first. */
  history(lane: string, template: string, limit = 50): HistoryRow[] {
    return (this.sql("SELECT * FROM history WHERE lane = ? AND template = ? ORDER BY id DESC LIMIT ?").all(lane, template, limit) as Record<string, number | string | null>[]).map((r) => ({
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
    }));
  }

  saveRun(r: RunRow): void {
    this.sql("INSERT OR REPLACE INTO runs (id, created_at, lane, tier, task, status, check_result, cost_usd, p90_usd, cap_usd, steps, duration_ms, hold_id, dir, tokens, unpriced, overage_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").run(
      r.id, r.createdAt, r.lane, r.tier, r.task, r.status, r.check, r.costUsd, r.p90Usd, r.capUsd, r.steps, r.durationMs, r.holdId, r.dir,
      r.tokens, r.unpriced ? 1 : 0, r.overageUsd,
    );
  }

  runs(limit = 50): RunRow[] {
    return (this.sql("SELECT * FROM runs ORDER BY created_at DESC LIMIT ?").all(limit) as Record<string, unknown>[]).map(toRun);
  }

  run1(id: string): RunRow | undefined {
    // A prefix is matched literally: `%` and `_` in it are escaped.
    const prefix = `${id.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const r = this.sql("SELECT * FROM runs WHERE id = ? OR id LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT 1").get(id, prefix) as Record<string, unknown> | undefined;
    return r ? toRun(r) : undefined;
  }

  createBatch(b: { id: string; file: string; name: string; capUsd: number; tasks: { repo: string; task: string }[] }): void {
    const tx = this.db.transaction(() => {
      this.sql("INSERT INTO batches (id, created_at, file, name, cap_usd, status) VALUES (?, ?, ?, ?, ?, 'running')").run(b.id, Date.now(), b.file, b.name, b.capUsd);
      b.tasks.forEach((t, i) => this.sql("INSERT INTO batch_tasks (batch_id, idx, repo, task, status) VALUES (?, ?, ?, ?, 'pending')").run(b.id, i, t.repo, t.task));
    });
    this.run(() => tx.immediate());
  }

  batch(id: string): { id: string; file: string; name: string; capUsd: number; status: string; createdAt: number } | undefined {
    const r = this.sql("SELECT * FROM batches WHERE id = ?").get(id) as Record<string, unknown> | undefined;
    return r ? { id: String(r.id), file: String(r.file), name: String(r.name), capUsd: Number(r.cap_usd), status: String(r.status), createdAt: Number(r.created_at) } : undefined;
  }

  setBatchStatus(id: string, status: string): void {
    this.sql("UPDATE batches SET status = ? WHERE id = ?").run(status, id);
  }

  batchTasks(id: string): BatchTaskRow[] {
    return (this.sql("SELECT * FROM batch_tasks WHERE batch_id = ? ORDER BY idx").all(id) as Record<string, unknown>[]).map((r) => ({
      batchId: String(r.batch_id), idx: Number(r.idx), repo: String(r.repo), task: String(r.task), status: String(r.status), runId: (r.run_id as string | null) ?? null, holdId: (r.hold_id as string | null) ?? null,
      host: (r.host as string | null) ?? null, costUsd: Number(r.cost_usd), check: (r.check_result as string | null) ?? null, patch: (r.patch as string | null) ?? null, detail: (r.detail as string | null) ?? null, attempts: Number(r.attempts),
    }));
  }

  updateBatchTask(batchId: string, idx: number, f: Partial<Pick<BatchTaskRow, "status" | "runId" | "holdId" | "host" | "costUsd" | "check" | "patch" | "detail">> & { attemptStarted?: boolean }): void {
    const cols: Record<string, string> = { status: "status", runId: "run_id", holdId: "hold_id", host: "host", costUsd: "cost_usd", check: "check_result", patch: "patch", detail: "detail" };
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
    this.sql(`UPDATE batch_tasks SET ${sets.join(", ")} WHERE batch_id = ? AND idx = ?`).run(...vals, batchId, idx);
  }

  /** A crashed run's hold is charged its worst case at once (its process is gone), never released. */
  expireHold(holdId: string): void {
    this.sql("UPDATE holds SET expires_at = 0 WHERE id = ? AND status = 'open'").run(holdId);
    this.expire();
  }

  private upsertBucket(b: BucketSpec): void {
    this.db
      .prepare("INSERT INTO buckets (key, unit, lim, kind, resets_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET lim = excluded.lim, kind = excluded.kind, resets_at = excluded.resets_at")
      .run(b.key, b.unit, b.limit, b.kind, b.resetsAt);
  }

  private run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      // Only SQLite's own failures are the ledger's; anything else keeps its identity.
      if (err instanceof LanesError || !String((err as { code?: unknown }).code ?? "").startsWith("SQLITE")) throw err;
      throw explain(err, this.path);
    }
  }
}

function toRun(r: Record<string, unknown>): RunRow {
  return {
    id: String(r.id), createdAt: Number(r.created_at), lane: String(r.lane), tier: String(r.tier), task: String(r.task), status: String(r.status), check: String(r.check_result),
    costUsd: Number(r.cost_usd), p90Usd: r.p90_usd === null ? null : Number(r.p90_usd), capUsd: Number(r.cap_usd), steps: Number(r.steps), durationMs: Number(r.duration_ms), holdId: r.hold_id === null ? null : String(r.hold_id), dir: String(r.dir),
    tokens: Number(r.tokens ?? 0), unpriced: Number(r.unpriced ?? 0) === 1, overageUsd: Number(r.overage_usd ?? 0),
  };
}

function fmt(n: number, unit: Unit): string {
  return unit === "usd" ? `$${n.toFixed(2)}` : `${Math.round(n)} ${unit}`;
}

function explain(err: unknown, path: string): LanesError {
  const code = (err as { code?: string }).code ?? "";
  if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT")
    return new LanesError("usage", `the ledger at ${path} is not a readable SQLite database (${code})`, { hint: "it was left untouched; move it aside (it holds your records) and lanes starts a new one", cause: err });
  if (code === "SQLITE_BUSY" || code === "SQLITE_LOCKED")
    return new LanesError("store", `the ledger at ${path} stayed locked by another process for 10 s`, { hint: "wait for the other lanes process, or check for a stuck one", cause: err });
  return new LanesError("usage", `the ledger at ${path} failed: ${(err as Error).message}`, { cause: err });
}
