/**
 * Holds and buckets: money moves in one direction only — reserve (a hold on every bucket a run
 * touches, all or nothing) → charge (from held to used, never past the hold) → settle (release
 * what was not charged) — each step one BEGIN IMMEDIATE transaction, so concurrent runs can never
 * overspend a bucket. A hold whose process died is charged at its worst case when it expires,
 * never released to zero.
 */
import { randomBytes } from "node:crypto";
import { LanesError } from "../../core/errors.js";
import type { BucketSpec, BucketStatus, Unit } from "../../core/quota.js";
import type { Db } from "./db.js";
import * as pg from "./pg-holds.js";
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
  constructor(private readonly s: Db) {}

  /**
   * Reserve `caps` in every bucket (each bucket takes the amount of its unit). All or nothing:
   * if any hard bucket would go over its limit, nothing is held and the error names it.
   */
  reserve(opts: Parameters<HoldStorePort["reserve"]>[0]): Hold {
    const id = `h_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
    const now = Date.now();
    const hold = { id, runId: opts.runId, lane: opts.lane, expiresAt: now + opts.ttlMs, caps: opts.caps };
    if (this.s.kind === "postgres") {
      const over = pg.reserve(this.s, id, opts, now);
      if (over) throw overLimit(over.key, over.unit, over, over.requested);
      return hold;
    }
    this.s.atomically(() => {
      this.expire(now);
      for (const b of opts.buckets) {
        this.upsertBucket(b);
        const amount = opts.caps[b.unit] ?? 0;
        if (amount <= 0) continue;
        // Held only where a hard limit allows it; no row back means it does not (nothing held:
        // the throw rolls the whole reservation back).
        const held = this.s
          .sql(
            "UPDATE buckets SET held = held + ? WHERE key = ?" +
              " AND (kind != 'hard' OR used + held + ? <= lim + 1e-9) RETURNING key",
          )
          .get(amount, b.key, amount);
        if (!held) {
          const row = this.s.sql("SELECT used, held, lim, resets_at FROM buckets WHERE key = ?").get(b.key) as {
            used: number;
            held: number;
            lim: number;
            resets_at: string;
          };
          throw overLimit(b.key, b.unit, row, amount);
        }
      }
      this.s
        .sql(
          "INSERT INTO holds (id, run_id, lane, created_at, expires_at, status, price_version, owner, meta)" +
            " VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?)",
        )
        .run(
          id,
          opts.runId,
          opts.lane,
          now,
          now + opts.ttlMs,
          opts.priceVersion ?? null,
          opts.owner ?? null,
          opts.meta ? JSON.stringify(opts.meta) : null,
        );
      for (const [unit, cap] of Object.entries(opts.caps))
        this.s.sql("INSERT INTO hold_caps (hold_id, unit, cap) VALUES (?, ?, ?)").run(id, unit, cap);
      for (const b of opts.buckets) {
        const amount = opts.caps[b.unit] ?? 0;
        if (amount <= 0) continue;
        this.s
          .sql("INSERT INTO hold_buckets (hold_id, bucket_key, unit, reserved) VALUES (?, ?, ?, ?)")
          .run(id, b.key, b.unit, amount);
      }
    });
    return hold;
  }

  /** Charge `amount` of `unit` against the hold, before the spending happens. Refuses past the cap. */
  charge(holdId: string, unit: HoldUnit, amount: number, note = ""): void {
    if (amount <= 0) return;
    if (this.s.kind === "postgres") {
      const r = pg.charge(this.s, "lanes_charge", holdId, unit, amount, note);
      if (!r.status) throw new LanesError("failed", `no hold ${holdId}`);
      if (r.status !== "open")
        throw new LanesError("quota", `hold ${holdId} is ${r.status}; nothing more can be charged to it`);
      if (r.left !== undefined) throw new HoldExhausted(unit, amount, r.left);
      return;
    }
    this.s.atomically(() => {
      // The usual case in one statement: an open hold with enough left takes the charge.
      const took = this.s
        .sql(
          "UPDATE hold_caps SET charged = charged + ? WHERE hold_id = ? AND unit = ?" +
            " AND ? <= cap - charged + 1e-12 AND (SELECT status FROM holds WHERE id = ?) = 'open' RETURNING 1",
        )
        .get(amount, holdId, unit, amount, holdId);
      if (!took) throw this.whyNoCharge(holdId, unit, amount);
      for (const hb of this.s
        .sql("UPDATE hold_buckets SET charged = charged + ? WHERE hold_id = ? AND unit = ? RETURNING bucket_key")
        .all(amount, holdId, unit) as { bucket_key: string }[])
        this.s
          .sql("UPDATE buckets SET used = used + ?, held = held - ? WHERE key = ?")
          .run(amount, amount, hb.bucket_key);
      this.s
        .sql("INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (?, ?, ?, ?, ?)")
        .run(holdId, Date.now(), unit, amount, note);
    });
  }

  /** Why a charge was refused: no such hold, a hold no longer open, or not enough left. */
  private whyNoCharge(holdId: string, unit: HoldUnit, amount: number): LanesError {
    const hold = this.s.sql("SELECT status FROM holds WHERE id = ?").get(holdId) as { status: string } | undefined;
    if (!hold) return new LanesError("failed", `no hold ${holdId}`);
    if (hold.status !== "open")
      return new LanesError("quota", `hold ${holdId} is ${hold.status}; nothing more can be charged to it`);
    const cap = this.s.sql("SELECT cap, charged FROM hold_caps WHERE hold_id = ? AND unit = ?").get(holdId, unit) as
      { cap: number; charged: number } | undefined;
    return new HoldExhausted(unit, amount, cap ? cap.cap - cap.charged : 0);
  }

  /**
   * Give back part of an earlier charge on an open hold (a call charged at its worst case cost
   * less). The amount returns from used to held, so it stays reserved for this run.
   */
  refund(holdId: string, unit: HoldUnit, amount: number, note = ""): void {
    if (amount <= 0) return;
    if (this.s.kind === "postgres") {
      if (pg.charge(this.s, "lanes_refund", holdId, unit, amount, note).status !== "open")
        throw new LanesError("quota", `hold ${holdId} is not open; nothing can be refunded to it`);
      return;
    }
    this.s.atomically(() => {
      const hold = this.s.sql("SELECT status FROM holds WHERE id = ?").get(holdId) as { status: string } | undefined;
      if (hold?.status !== "open")
        throw new LanesError("quota", `hold ${holdId} is not open; nothing can be refunded to it`);
      const cap = this.s.sql("SELECT charged FROM hold_caps WHERE hold_id = ? AND unit = ?").get(holdId, unit) as
        { charged: number } | undefined;
      const back = Math.min(amount, cap?.charged ?? 0);
      if (back <= 0) return;
      this.s.sql("UPDATE hold_caps SET charged = charged - ? WHERE hold_id = ? AND unit = ?").run(back, holdId, unit);
      for (const hb of this.s
        .sql("SELECT bucket_key FROM hold_buckets WHERE hold_id = ? AND unit = ?")
        .all(holdId, unit) as { bucket_key: string }[]) {
        this.s.sql("UPDATE buckets SET used = used - ?, held = held + ? WHERE key = ?").run(back, back, hb.bucket_key);
        this.s
          .sql("UPDATE hold_buckets SET charged = charged - ? WHERE hold_id = ? AND bucket_key = ?")
          .run(back, holdId, hb.bucket_key);
      }
      this.s
        .sql("INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (?, ?, ?, ?, ?)")
        .run(holdId, Date.now(), unit, -back, note);
    });
  }

  /** Sum of a hold's charge rows (refunds included). */
  chargedOn(holdId: string, unit: HoldUnit = "usd"): number {
    return (
      this.s
        .sql("SELECT COALESCE(SUM(amount), 0) AS s FROM charges WHERE hold_id = ? AND unit = ?")
        .get(holdId, unit) as { s: number }
    ).s;
  }

  /** Release what the hold did not charge. Idempotent: settling twice is settling once. */
  settle(holdId: string): HoldState {
    if (this.s.kind === "postgres") {
      const state = pg.settle(this.s, holdId);
      if (!state) throw new LanesError("failed", `no hold ${holdId}`);
      return state;
    }
    this.s.atomically(() => {
      // Only an open hold is settled (once): a second settle, or one of an expired hold, is a no-op.
      const settled = this.s
        .sql("UPDATE holds SET status = 'settled', settled_at = ? WHERE id = ? AND status = 'open' RETURNING 1")
        .get(Date.now(), holdId);
      if (!settled) {
        if (!this.s.sql("SELECT 1 FROM holds WHERE id = ?").get(holdId))
          throw new LanesError("failed", `no hold ${holdId}`);
        return;
      }
      for (const hb of this.s
        .sql("SELECT bucket_key, reserved - charged AS back FROM hold_buckets WHERE hold_id = ?")
        .all(holdId) as { bucket_key: string; back: number }[])
        this.s.sql("UPDATE buckets SET held = held - ? WHERE key = ?").run(hb.back, hb.bucket_key);
    });
    return this.hold(holdId);
  }

  /** Expired holds (their process died or hung) are charged what they reserved: the worst case. */
  expire(now = Date.now()): number {
    if (this.s.kind === "postgres") return pg.expire(this.s, now);
    const expired = this.s.sql("SELECT id FROM holds WHERE status = 'open' AND expires_at < ?").all(now) as {
      id: string;
    }[];
    if (!expired.length) return 0;
    this.s.atomically(() => {
      for (const { id } of this.s.sql("SELECT id FROM holds WHERE status = 'open' AND expires_at < ?").all(now) as {
        id: string;
      }[]) {
        for (const c of this.s.sql("SELECT unit, cap, charged FROM hold_caps WHERE hold_id = ?").all(id) as {
          unit: string;
          cap: number;
          charged: number;
        }[]) {
          if (c.cap - c.charged > 0)
            this.s
              .sql(
                "INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (?, ?, ?, ?, 'expired: charged at worst case')",
              )
              .run(id, now, c.unit, c.cap - c.charged);
        }
        this.s.sql("UPDATE hold_caps SET charged = cap WHERE hold_id = ?").run(id);
        for (const hb of this.s
          .sql("SELECT bucket_key, reserved, charged FROM hold_buckets WHERE hold_id = ?")
          .all(id) as { bucket_key: string; reserved: number; charged: number }[]) {
          const rest = hb.reserved - hb.charged;
          this.s
            .sql("UPDATE buckets SET used = used + ?, held = held - ? WHERE key = ?")
            .run(rest, rest, hb.bucket_key);
        }
        this.s.sql("UPDATE hold_buckets SET charged = reserved WHERE hold_id = ?").run(id);
        this.s.sql("UPDATE holds SET status = 'expired', settled_at = ? WHERE id = ?").run(now, id);
      }
    });
    return expired.length;
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
    return buckets.map((b) => {
      const row =
        this.s.kind === "postgres"
          ? pg.bucket(this.s, b.key)
          : (this.s.sql("SELECT used, held FROM buckets WHERE key = ?").get(b.key) as
              { used: number; held: number } | undefined);
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
    this.s.sql("UPDATE holds SET expires_at = 0 WHERE id = ? AND status = 'open'").run(holdId);
    this.expire();
  }

  private upsertBucket(b: BucketSpec): void {
    this.s
      .sql(
        "INSERT INTO buckets (key, unit, lim, kind, resets_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(key)" +
          " DO UPDATE SET lim = excluded.lim, kind = excluded.kind, resets_at = excluded.resets_at",
      )
      .run(b.key, b.unit, b.limit, b.kind, b.resetsAt);
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
