/**
 * The hold operations on the SQLite file: the same model and steps as the PostgreSQL functions
 * (pg-row-locks.ts), so both stores answer alike. A hold's money stays in the hold (`hold_caps`)
 * until a reservation of the bucket folds the closed hold in; a charge writes its hold's row and
 * the charge, two pages, where moving money through the bucket and hold_buckets rows wrote four.
 * Where PostgreSQL marks a closed hold's caps (`open`, for its row locks), SQLite's single writer
 * reads the hold's status, and settling writes the hold alone.
 * Each function runs inside one write transaction (hold-store.ts), which SQLite's write lock
 * serialises across processes; a refused reservation throws there and rolls everything back.
 */
import type { BucketSpec } from "../../core/quota.js";
import type { HoldStorePort, HoldUnit } from "../../core/ports.js";
import type { Db } from "./db.js";
import { holdRow, type OverLimit } from "./pg-holds.js";

/** Hold `o.caps` in every bucket; the first hard bucket (in key order) that cannot take it, if any. */
export function reserve(
  db: Db,
  id: string,
  o: Parameters<HoldStorePort["reserve"]>[0],
  now: number,
): OverLimit | undefined {
  db.sql(
    "INSERT INTO holds (id, run_id, lane, created_at, expires_at, status, price_version, owner, meta)" +
      " VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?)",
  ).run(...holdRow(id, o, now));
  for (const [unit, cap] of Object.entries(o.caps))
    db.sql("INSERT INTO hold_caps (hold_id, unit, cap) VALUES (?, ?, ?)").run(id, unit, cap);
  const amount = (b: BucketSpec) => Math.max(o.caps[b.unit] ?? 0, 0);
  for (const b of o.buckets.filter((x) => amount(x) > 0))
    db.sql("INSERT INTO hold_buckets (hold_id, bucket_key, unit, reserved, folded) VALUES (?, ?, ?, ?, 0)").run(
      id,
      b.key,
      b.unit,
      amount(b),
    );
  for (const b of [...o.buckets].sort((x, y) => (x.key < y.key ? -1 : 1))) {
    const amt = amount(b);
    // Closed holds are folded in one time in eight: until then they count at their whole caps,
    // more than they spent, so what fits unfolded fits (and what does not is decided below).
    if (Math.random() < 0.125) fold(db, b.key);
    // Added only where a hard limit allows it: no row back means it does not.
    const add = () =>
      db
        .sql(
          "INSERT INTO buckets (key, unit, lim, kind, resets_at, held) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE" +
            " SET lim = excluded.lim, kind = excluded.kind, resets_at = excluded.resets_at, held = held + ?" +
            " WHERE excluded.kind != 'hard' OR ? = 0 OR used + held + ? <= excluded.lim + 1e-9 RETURNING used, held, lim",
        )
        .get(b.key, b.unit, b.limit, b.kind, b.resetsAt, amt, amt, amt, amt) as
        { used: number; held: number; lim: number } | undefined;
    const row = add();
    // A new bucket takes the cap unchecked: over a hard limit at once, it is refused.
    if (row && !(b.kind === "hard" && amt > 0 && row.used + row.held > row.lim + 1e-9)) continue;
    const seen = bucketAsSeen(db, b.key)!;
    const before = { used: seen.used, held: seen.held - (row ? amt : 0) };
    // Refused with closed holds at their whole caps: decide on what they charged.
    if (!row && before.used + before.held + amt <= b.limit + 1e-9) {
      db.sql("UPDATE buckets SET lim = ?, kind = ?, resets_at = ?, held = held + ? WHERE key = ?").run(
        b.limit,
        b.kind,
        b.resetsAt,
        amt,
        b.key,
      );
      continue;
    }
    return { key: b.key, unit: b.unit, ...before, lim: b.limit, requested: amt, resets_at: b.resetsAt };
  }
  return undefined;
}

/** Fold the bucket's closed holds in: what they charged into used, their caps out of held. */
function fold(db: Db, key: string): void {
  const closed = db
    .sql(
      "UPDATE hold_buckets SET folded = 1 WHERE bucket_key = ? AND folded = 0 AND EXISTS (SELECT 1 FROM holds h" +
        " WHERE h.id = hold_buckets.hold_id AND h.status != 'open') RETURNING reserved," +
        " (SELECT charged FROM hold_caps c WHERE c.hold_id = hold_buckets.hold_id AND c.unit = hold_buckets.unit) AS charged",
    )
    .all(key) as { reserved: number; charged: number }[];
  if (!closed.length) return;
  const sum = (k: "reserved" | "charged") => closed.reduce((n, c) => n + c[k], 0);
  db.sql("UPDATE buckets SET used = used + ?, held = held - ? WHERE key = ?").run(sum("charged"), sum("reserved"), key);
}

/** Charge an open hold, or say why not: its status (none: no such hold), and what was left if too little. */
export function charge(
  db: Db,
  holdId: string,
  unit: HoldUnit,
  amount: number,
  note: string,
): { status: string | null; left?: number } {
  const took = db
    .sql(
      "UPDATE hold_caps SET charged = charged + ? WHERE hold_id = ? AND unit = ? AND ? <= cap - charged + 1e-12" +
        " AND (SELECT status FROM holds WHERE id = ?) = 'open' RETURNING 1",
    )
    .get(amount, holdId, unit, amount, holdId);
  if (took) {
    db.sql("INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (?, ?, ?, ?, ?)").run(
      holdId,
      Date.now(),
      unit,
      amount,
      note,
    );
    return { status: "open" };
  }
  const row = db
    .sql(
      "SELECT h.status, c.cap - c.charged AS left FROM holds h LEFT JOIN hold_caps c ON c.hold_id = h.id AND c.unit = ?" +
        " WHERE h.id = ?",
    )
    .get(unit, holdId) as { status: string; left: number | null } | undefined;
  if (row?.status !== "open") return { status: row?.status ?? null };
  return { status: "open", left: row.left ?? 0 };
}

/** Give back up to `amount` of an open hold's charges (it stays held for the run). */
export function refund(
  db: Db,
  holdId: string,
  unit: HoldUnit,
  amount: number,
  note: string,
): { status: string | null } {
  const hold = db.sql("SELECT status FROM holds WHERE id = ?").get(holdId) as { status: string } | undefined;
  if (hold?.status !== "open") return { status: hold?.status ?? null };
  const cap = db.sql("SELECT charged FROM hold_caps WHERE hold_id = ? AND unit = ?").get(holdId, unit) as
    { charged: number } | undefined;
  const back = Math.min(amount, cap?.charged ?? 0);
  if (back > 0) {
    db.sql("UPDATE hold_caps SET charged = charged - ? WHERE hold_id = ? AND unit = ?").run(back, holdId, unit);
    db.sql("INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (?, ?, ?, ?, ?)").run(
      holdId,
      Date.now(),
      unit,
      -back,
      note,
    );
  }
  return { status: "open" };
}

/** Close an open hold (false: there is no such hold). Settling twice is settling once. */
export function settle(db: Db, holdId: string, now: number): boolean {
  const closed = db
    .sql("UPDATE holds SET status = 'settled', settled_at = ? WHERE id = ? AND status = 'open' RETURNING 1")
    .get(now, holdId);
  return closed !== undefined || db.sql("SELECT 1 FROM holds WHERE id = ?").get(holdId) !== undefined;
}

/** Charge expired holds (their process died or hung) what they reserved, the worst case; how many. */
export function expire(db: Db, now: number): number {
  const ids = (
    db.sql("SELECT id FROM holds WHERE status = 'open' AND expires_at < ?").all(now) as { id: string }[]
  ).map((h) => h.id);
  for (const id of ids) {
    db.sql(
      "INSERT INTO charges (hold_id, at, unit, amount, note) SELECT hold_id, ?, unit, cap - charged," +
        " 'expired: charged at worst case' FROM hold_caps WHERE hold_id = ? AND cap - charged > 0",
    ).run(now, id);
    db.sql("UPDATE hold_caps SET charged = cap WHERE hold_id = ?").run(id);
    db.sql("UPDATE holds SET status = 'expired', settled_at = ? WHERE id = ?").run(now, id);
  }
  return ids.length;
}

/**
 * A bucket's used and held as they stand (either store): open holds' charges count as used, and a
 * closed hold not yet folded in counts as what it charged, no longer as its cap.
 */
export function bucketAsSeen(db: Db, key: string): { used: number; held: number } | undefined {
  return db
    .sql(
      "SELECT b.used + COALESCE(SUM(c.charged), 0) AS used," +
        " b.held - COALESCE(SUM(CASE WHEN h.status = 'open' THEN c.charged ELSE hb.reserved END), 0) AS held" +
        " FROM buckets b LEFT JOIN hold_buckets hb ON hb.bucket_key = b.key AND NOT hb.folded" +
        " LEFT JOIN hold_caps c ON c.hold_id = hb.hold_id AND c.unit = hb.unit LEFT JOIN holds h ON h.id = hb.hold_id" +
        " WHERE b.key = ? GROUP BY b.key",
    )
    .get(key) as { used: number; held: number } | undefined;
}
