/**
 * The hold operations on PostgreSQL: each is one call of its server-side function (pg-schema.ts),
 * one round trip instead of one per statement. hold-store.ts builds the same errors from what
 * they return as from the SQLite steps (sqlite-holds.ts). `direct`: the session may call the inner
 * functions itself (the store's owner: pg-roles.ts), skipping the checks that bind a client role
 * (and their cost: a SECURITY DEFINER call with its own search_path, ~40 % of a run's time).
 */
import type { BucketSpec, Unit } from "../../core/quota.js";
import type { Amounts, HoldState, HoldStorePort, HoldUnit } from "../../core/ports.js";
import type { Db } from "./db.js";

type Value<T> = { r: T };

/** A hard bucket that cannot take a run's cap: what it held as a user sees it, and its limit. */
export type OverLimit = {
  key: string;
  unit: Unit;
  used: number;
  held: number;
  lim: number;
  requested: number;
  resets_at: string;
};

/** A new hold's row values (both stores): id, run, lane, created, expires, price version, owner, meta. */
export function holdRow(id: string, o: Parameters<HoldStorePort["reserve"]>[0], now: number): unknown[] {
  const meta = o.meta ? JSON.stringify(o.meta) : null;
  return [id, o.runId, o.lane, now, now + o.ttlMs, o.priceVersion ?? null, o.owner ?? null, meta];
}

/** undefined when held; else the hard bucket that could not take the run's cap. */
export function reserve(
  db: Db,
  id: string,
  o: Parameters<HoldStorePort["reserve"]>[0],
  now: number,
  direct: boolean,
): OverLimit | undefined {
  const buckets = o.buckets.map((b: BucketSpec) => ({
    key: b.key,
    unit: b.unit,
    lim: b.limit,
    kind: b.kind,
    resets_at: b.resetsAt,
  }));
  const { r } = db
    .sql(`SELECT lanes_reserve${direct ? "_as" : ""}(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) AS r`)
    .get(...holdRow(id, o, now), JSON.stringify(buckets), JSON.stringify(o.caps)) as Value<OverLimit & { ok: boolean }>;
  return r.ok ? undefined : r;
}

/**
 * Charge or refund: the hold's status (none when it does not exist), and what was left when too
 * little. `total` is the run's own total for the hold after it (null where the caller does not
 * know it); `wait`: the commit waits for the disk (pg-charge-totals.ts says when it need not).
 */
export function charge(
  db: Db,
  fn: "lanes_charge" | "lanes_refund",
  holdId: string,
  unit: HoldUnit,
  amount: number,
  note: string,
  total: number | null,
  wait: boolean,
  direct: boolean,
): { status: string | null; left?: number } {
  return (
    db
      .sql(`SELECT ${fn}${direct ? "_as" : ""}(?, ?, ?, ?, ?, ?, ?) AS r`)
      .get(holdId, unit, amount, note, Date.now(), total, wait) as Value<{
      status: string | null;
      left?: number;
    }>
  ).r;
}

/** Close the hold; `totals` (the run's own, when known) restores charges a server crash lost. */
export function settle(db: Db, holdId: string, totals: Amounts | null, direct: boolean): HoldState | undefined {
  const { r } = db
    .sql(`SELECT lanes_settle${direct ? "_as" : ""}(?, ?, ?) AS r`)
    .get(holdId, Date.now(), totals && JSON.stringify(totals)) as Value<Omit<HoldState, "id"> | null>;
  return r ? { id: holdId, ...r } : undefined;
}

export function expire(db: Db, now: number): number {
  return (db.sql("SELECT lanes_expire(?) AS r").get(now) as Value<number>).r;
}

/** Who this session is to the store: its role, whether it is a lanes client, whether it may call the inner functions. */
export function session(db: Db): { role: string; client: boolean; direct: boolean } {
  return db
    .sql(
      "SELECT session_user::TEXT AS role, lanes_is_client() AS client, has_function_privilege(" +
        "'lanes_reserve_as(TEXT, TEXT, TEXT, BIGINT, BIGINT, TEXT, TEXT, TEXT, JSON, JSON)', 'EXECUTE') AS direct",
    )
    .get() as { role: string; client: boolean; direct: boolean };
}
