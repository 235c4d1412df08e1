/**
 * Holds and buckets: money moves in one direction only — reserve (a hold on every bucket a run
 * touches, all or nothing) → charge (within the hold, never past its cap) → settle (close the hold:
 * the bucket keeps what it charged and frees the rest) — each step one transaction (SQLite's write
 * lock, or PostgreSQL's row locks), so concurrent runs can never overspend a bucket. The steps
 * themselves are in sqlite-holds.ts and pg-row-locks.ts, one model for both stores. A hold whose
 * process died is charged at its worst case when it expires, never released to zero.
 */
import { randomBytes } from "node:crypto";
import { LanesError } from "../../core/errors.js";
import type { BucketSpec, BucketStatus, Unit } from "../../core/quota.js";
import type { Db } from "./db.js";
import * as pg from "./pg-holds.js";
import type { OverLimit } from "./pg-holds.js";
import * as sqlite from "./sqlite-holds.js";
import type { Amounts, CrashedHold, Hold, HoldMeta, HoldState, HoldStorePort, HoldUnit } from "../../core/ports.js";

/** The run's hold cannot pay for this charge: nothing was charged. */
export class HoldExhausted extends LanesError {
  constructor(unit: string, asked: number, left: number) {
    super("quota", `the run's hold has ${left.toFixed(6)} ${unit} left; ${asked.toFixed(6)} was asked`, {
      details: { unit, asked, left },
    });
  }
}

export class HoldStore implements HoldStorePort {
  /**
   * PostgreSQL: what each hold reserved here has charged, as this process counted it, and the
   * order of its reservation (`seq`). A charge waits for the disk only while its hold's
   * reservation may not be on disk yet (`seq` past `onDisk`); see pg-charge-totals.ts.
   */
  private readonly mine = new Map<string, { seq: number; totals: Amounts }>();
  private seq = 0;
  private onDisk = 0;

  /** Who this session is to a team store (pg-roles.ts), once asked. */
  private session: ReturnType<typeof pg.session> | undefined;

  constructor(private readonly s: Db) {}

  /**
   * Reserve `caps` in every bucket (each bucket takes the amount of its unit). All or nothing:
   * if any hard bucket would go over its limit, nothing is held and the error names it.
   */
  reserve(opts: Parameters<HoldStorePort["reserve"]>[0]): Hold {
    opts = { ...opts, buckets: opts.buckets.map((b) => this.asRole(b)) };
    const id = `h_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
    const now = Date.now();
    const hold = { id, runId: opts.runId, lane: opts.lane, expiresAt: now + opts.ttlMs, caps: opts.caps };
    // On PostgreSQL one function call (it takes back what it held when refused); on SQLite the
    // steps in one transaction, which the error rolls back.
    const refuse = (over: OverLimit | undefined) => {
      if (over) throw overLimit(over.key, over.unit, over, over.requested);
    };
    if (this.s.kind === "postgres") {
      this.s.committedLater?.();
      refuse(pg.reserve(this.s, id, opts, now, this.pgSession().direct));
      this.mine.set(id, { seq: ++this.seq, totals: {} });
    } else this.s.atomically(() => refuse(sqlite.reserve(this.s, id, opts, now)));
    return hold;
  }

  /** Charge `amount` of `unit` against the hold, before the spending happens. Refuses past the cap. */
  charge(holdId: string, unit: HoldUnit, amount: number, note = ""): void {
    if (amount <= 0) return;
    const r =
      this.s.kind === "postgres"
        ? this.pgCharge("lanes_charge", holdId, unit, amount, note, (had) => had + amount)
        : this.s.atomically(() => sqlite.charge(this.s, holdId, unit, amount, note));
    if (!r.status) throw new LanesError("failed", `no hold ${holdId}`);
    if (r.status !== "open")
      throw new LanesError("quota", `hold ${holdId} is ${r.status}; nothing more can be charged to it`);
    if (r.left !== undefined) throw new HoldExhausted(unit, amount, r.left);
  }

  /**
   * Give back part of an earlier charge on an open hold (a call charged at its worst case cost
   * less). The amount returns to the hold, so it stays reserved for this run.
   */
  refund(holdId: string, unit: HoldUnit, amount: number, note = ""): void {
    if (amount <= 0) return;
    const r =
      this.s.kind === "postgres"
        ? this.pgCharge("lanes_refund", holdId, unit, amount, note, (had) => had - Math.min(amount, had))
        : this.s.atomically(() => sqlite.refund(this.s, holdId, unit, amount, note));
    if (r.status !== "open") throw new LanesError("quota", `hold ${holdId} is not open; nothing can be refunded to it`);
  }

  /** A charge or refund on PostgreSQL, with the run's own total for the hold when it is ours. */
  private pgCharge(
    fn: "lanes_charge" | "lanes_refund",
    holdId: string,
    unit: HoldUnit,
    amount: number,
    note: string,
    after: (had: number) => number,
  ): ReturnType<typeof pg.charge> {
    const m = this.mine.get(holdId);
    const total = m ? after(m.totals[unit] ?? 0) : null;
    const wait = !m || m.seq > this.onDisk;
    const r = pg.charge(this.s, fn, holdId, unit, amount, note, total, wait, this.pgSession().direct);
    if (r.status !== "open" || r.left !== undefined) return r;
    if (m) m.totals[unit] = total!;
    // A commit that waited put every reservation made before it on disk with it.
    if (wait) this.onDisk = this.seq;
    else this.s.committedLater?.();
    return r;
  }

  /**
   * What a hold has charged (refunds included): the sum of its charge rows, kept with every charge
   * in its caps row, which is read by key (SQLite's charges have no index by hold: a sum would
   * read every charge ever made, once a run).
   */
  chargedOn(holdId: string, unit: HoldUnit = "usd"): number {
    const row = this.s.sql("SELECT charged FROM hold_caps WHERE hold_id = ? AND unit = ?").get(holdId, unit) as
      { charged: number } | undefined;
    return row?.charged ?? 0;
  }

  /** Release what the hold did not charge. Idempotent: settling twice is settling once. */
  settle(holdId: string): HoldState {
    if (this.s.kind === "postgres") {
      this.s.committedLater?.();
      const state = pg.settle(this.s, holdId, this.mine.get(holdId)?.totals ?? null, this.pgSession().direct);
      this.mine.delete(holdId);
      if (!state) throw new LanesError("failed", `no hold ${holdId}`);
      return state;
    }
    if (!this.s.atomically(() => sqlite.settle(this.s, holdId, Date.now())))
      throw new LanesError("failed", `no hold ${holdId}`);
    return this.hold(holdId);
  }

  /** Expired holds (their process died or hung) are charged what they reserved: the worst case. */
  expire(now = Date.now()): number {
    if (this.s.kind === "postgres") return pg.expire(this.s, now);
    // Without a write lock when nothing expired (every command opens the ledger).
    if (!this.s.sql("SELECT 1 FROM holds WHERE status = 'open' AND expires_at < ? LIMIT 1").get(now)) return 0;
    return this.s.atomically(() => sqlite.expire(this.s, now));
  }

  hold(holdId: string): HoldState {
    const h = this.s.sql("SELECT status FROM holds WHERE id = ?").get(holdId) as
      { status: HoldState["status"] } | undefined;
    if (!h) throw new LanesError("failed", `no hold ${holdId}`);
    const caps: Amounts = {};
    const charged: Amounts = {};
    for (const c of this.s.sql("SELECT unit, cap, charged FROM hold_caps WHERE hold_id = ?").all(holdId) as {
      unit: Unit;
      cap: number;
      charged: number;
    }[]) {
      caps[c.unit] = c.cap;
      charged[c.unit] = c.charged;
    }
    return { id: holdId, status: h.status, caps, charged };
  }

  /** Current state of the given buckets (defined from config: limits updated, missing ones at zero). */
  status(buckets: BucketSpec[]): BucketStatus[] {
    return buckets.map((spec) => {
      const b = this.asRole(spec);
      const row = sqlite.bucketAsSeen(this.s, b.key);
      return {
        key: b.key,
        unit: b.unit,
        used: row?.used ?? 0,
        held: row?.held ?? 0,
        limit: b.limit,
        kind: b.kind,
        resetsAt: b.resetsAt,
      };
    });
  }

  /**
   * On a team store, a lanes client's user buckets are its database role's (pg-roles.ts: the
   * server charges them whatever user the client names), so plans and quotas show those.
   */
  private asRole(b: BucketSpec): BucketSpec {
    if (this.s.kind !== "postgres" || b.scope !== "user") return b;
    const { role, client } = this.pgSession();
    return client ? { ...b, id: role, key: b.key.replace(/^user:[^:]*:/, `user:${role}:`) } : b;
  }

  /** Asked once per connection's life: the role cannot change under it. */
  private pgSession(): ReturnType<typeof pg.session> {
    return (this.session ??= pg.session(this.s));
  }

  /** Open holds of a lane: its runs in flight, for the concurrency rule. */
  running(lane: string): number {
    return (
      this.s
        .sql("SELECT COUNT(*) AS n FROM holds WHERE status = 'open' AND lane = ? AND expires_at >= ?")
        .get(lane, Date.now()) as { n: number }
    ).n;
  }

  /** Sum of all charge rows (for reconciliation). */
  totalCharged(unit: Unit = "usd"): number {
    return (this.s.sql("SELECT COALESCE(SUM(amount), 0) AS s FROM charges WHERE unit = ?").get(unit) as { s: number })
      .s;
  }

  /** A crashed run's hold is charged its worst case at once (its process is gone), never released. */
  expireHold(holdId: string): void {
    this.mine.delete(holdId);
    if (this.s.kind === "postgres")
      this.s.sql("SELECT lanes_release(?)").get(holdId); // a client writes no table
    else this.s.sql("UPDATE holds SET expires_at = 0 WHERE id = ? AND status = 'open'").run(holdId);
    this.expire();
  }

  settleCrashed(isDead: (owner: string) => boolean): CrashedHold[] {
    const open = this.s
      .sql("SELECT id, run_id, lane, created_at, owner, meta FROM holds WHERE status = 'open' AND owner IS NOT NULL")
      .all() as { id: string; run_id: string; lane: string; created_at: number; owner: string; meta: string | null }[];
    const crashed: CrashedHold[] = [];
    for (const h of open.filter((x) => isDead(x.owner))) {
      this.expireHold(h.id);
      crashed.push({
        holdId: h.id,
        runId: h.run_id,
        lane: h.lane,
        createdAt: h.created_at,
        chargedUsd: this.chargedOn(h.id, "usd"),
        meta: h.meta ? (JSON.parse(h.meta) as HoldMeta) : undefined,
      });
    }
    return crashed;
  }
}

/** A hard bucket that cannot take this run's cap: named, with what it holds and when it resets. */
function overLimit(
  key: string,
  unit: Unit,
  row: { used: number; held: number; lim: number; resets_at: string },
  amount: number,
): LanesError {
  return new LanesError(
    "quota",
    `quota ${key} cannot hold this run: used ${fmt(row.used, unit)} + held ${fmt(row.held, unit)}` +
      ` + this run's cap ${fmt(amount, unit)} > limit ${fmt(row.lim, unit)}`,
    {
      hint: `it resets ${row.resets_at}; lower the lane's cap, or raise the limit in lanes.yaml`,
      details: {
        bucket: key,
        used: row.used,
        held: row.held,
        limit: row.lim,
        requested: amount,
        resetsAt: row.resets_at,
      },
    },
  );
}

function fmt(n: number, unit: Unit): string {
  return unit === "usd" ? `$${n.toFixed(2)}` : `${Math.round(n)} ${unit}`;
}
