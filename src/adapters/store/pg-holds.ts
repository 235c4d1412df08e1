/**
 * The hold operations on PostgreSQL: each is one call of its server-side function (pg-schema.ts),
 * one round trip instead of one per statement. hold-store.ts builds the same errors from what
 * they return as from its own SQLite steps.
 */
import type { BucketSpec, Unit } from "../../core/quota.js";
import type { HoldState, HoldStorePort, HoldUnit } from "../../core/ports.js";
import type { Db } from "./db.js";

type Value<T> = { r: T };

/** undefined when held; else the hard bucket that could not take the run's cap. */
export function reserve(
  db: Db,
  id: string,
  o: Parameters<HoldStorePort["reserve"]>[0],
  now: number,
):
  | { key: string; unit: Unit; used: number; held: number; lim: number; requested: number; resets_at: string }
  | undefined {
  const buckets = o.buckets.map((b: BucketSpec) => ({
    key: b.key,
    unit: b.unit,
    lim: b.limit,
    kind: b.kind,
    resets_at: b.resetsAt,
  }));
  const { r } = db
    .sql("SELECT lanes_reserve(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) AS r")
    .get(
      id,
      o.runId,
      o.lane,
      now,
      now + o.ttlMs,
      o.priceVersion ?? null,
      o.owner ?? null,
      o.meta ? JSON.stringify(o.meta) : null,
      JSON.stringify(buckets),
      JSON.stringify(o.caps),
    ) as Value<{
    ok: boolean;
    key: string;
    unit: Unit;
    used: number;
    held: number;
    lim: number;
    requested: number;
    resets_at: string;
  }>;
  return r.ok ? undefined : r;
}

/** Charge or refund: the hold's status (none when it does not exist), and what was left when too little. */
export function charge(
  db: Db,
  fn: "lanes_charge" | "lanes_refund",
  holdId: string,
  unit: HoldUnit,
  amount: number,
  note: string,
): { status: string | null; left?: number } {
  return (
    db.sql(`SELECT ${fn}(?, ?, ?, ?, ?) AS r`).get(holdId, unit, amount, note, Date.now()) as Value<{
      status: string | null;
      left?: number;
    }>
  ).r;
}

export function settle(db: Db, holdId: string): HoldState | undefined {
  const { r } = db.sql("SELECT lanes_settle(?, ?) AS r").get(holdId, Date.now()) as Value<Omit<HoldState, "id"> | null>;
  return r ? { id: holdId, ...r } : undefined;
}

export function expire(db: Db, now: number): number {
  return (db.sql("SELECT lanes_expire(?) AS r").get(now) as Value<number>).r;
}

/**
 * A bucket's used and held as they stand: open holds' charges count as used, and a closed hold not
 * yet folded into the bucket counts as what it charged, no longer as its cap (pg-row-locks.ts).
 */
export function bucket(db: Db, key: string): { used: number; held: number } | undefined {
  return db
    .sql(
      "SELECT b.used + COALESCE(SUM(c.charged), 0) AS used," +
        " b.held - COALESCE(SUM(CASE WHEN c.open THEN c.charged ELSE hb.reserved END), 0) AS held" +
        " FROM buckets b LEFT JOIN hold_buckets hb ON hb.bucket_key = b.key AND NOT hb.folded" +
        " LEFT JOIN hold_caps c ON c.hold_id = hb.hold_id AND c.unit = hb.unit WHERE b.key = ? GROUP BY b.key",
    )
    .get(key) as { used: number; held: number } | undefined;
}
