/**
 * Migration 5 of the PostgreSQL store.
 *  - Folding closed holds into a bucket, and reading a bucket as users see it, by index whatever
 *    the store's size. As SQL functions joining hold_buckets to hold_caps, both were planned anew
 *    on every call, and where the table's statistics lagged its growth the planner chose a hash
 *    join over a sequential scan of hold_caps (every hold ever made): 4,000 runs on a fresh store
 *    read 965,868 rows of it in 413 scans. Now each closed hold's caps row is looked up by its key
 *    (a lateral subquery the planner cannot flatten into a join): none; and the fold is plpgsql,
 *    whose plans are kept per connection.
 *  - A settlement commits without waiting for the disk, as a reservation does (pg-row-locks.ts):
 *    the next commit that waits for it — the run's record written right after, the process's
 *    next charge, or closing the store (PgDb.close) — flushes it with itself. A server crash in
 *    between leaves the hold open, and it expires at its worst case like a hold whose process
 *    died: the bucket counts more than was spent, never less. Charges still wait for the disk:
 *    nothing is spent without one. (Since migration 6 a run's first charge: pg-charge-totals.ts.)
 */
export const PG_FOLD_AND_SETTLE = `
CREATE OR REPLACE FUNCTION lanes_seen(p_key TEXT, OUT used DOUBLE PRECISION, OUT held DOUBLE PRECISION) LANGUAGE sql AS $$
  SELECT k.used + COALESCE(SUM(c.charged), 0),
    k.held - COALESCE(SUM(CASE WHEN c.open THEN c.charged ELSE hb.reserved END), 0)
    FROM buckets k LEFT JOIN hold_buckets hb ON hb.bucket_key = k.key AND NOT hb.folded
    LEFT JOIN LATERAL (SELECT x.charged, x.open FROM hold_caps x WHERE x.hold_id = hb.hold_id AND x.unit = hb.unit
      OFFSET 0) c ON true
    WHERE k.key = p_key GROUP BY k.key;
$$;

-- Closed holds of a bucket folded into it; rows another transaction has locked are left for later.
CREATE OR REPLACE FUNCTION lanes_fold(p_key TEXT) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE ids TEXT[]; c DOUBLE PRECISION; r DOUBLE PRECISION;
BEGIN
  SELECT array_agg(s.hold_id), SUM(s.charged), SUM(s.reserved) INTO ids, c, r FROM (
    SELECT hb.hold_id, hb.reserved, x.charged FROM hold_buckets hb
      CROSS JOIN LATERAL (SELECT charged, open FROM hold_caps WHERE hold_id = hb.hold_id AND unit = hb.unit OFFSET 0) x
      WHERE hb.bucket_key = p_key AND NOT hb.folded AND NOT x.open FOR UPDATE OF hb SKIP LOCKED) s;
  IF ids IS NULL THEN RETURN; END IF;
  UPDATE hold_buckets SET folded = true WHERE hold_id = ANY (ids) AND bucket_key = p_key;
  UPDATE buckets SET used = used + c, held = held - r WHERE key = p_key;
END $$;

CREATE OR REPLACE FUNCTION lanes_settle(p_hold TEXT, p_now BIGINT) RETURNS JSON LANGUAGE plpgsql AS $$
DECLARE st TEXT;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  UPDATE holds SET status = 'settled', settled_at = p_now WHERE id = p_hold AND status = 'open' RETURNING status INTO st;
  IF FOUND THEN
    UPDATE hold_caps SET open = false WHERE hold_id = p_hold;
  ELSE
    SELECT status INTO st FROM holds WHERE id = p_hold;
    IF st IS NULL THEN RETURN NULL; END IF;
  END IF;
  RETURN (SELECT json_build_object('status', st, 'caps', COALESCE(json_object_agg(unit, cap), '{}'::JSON),
    'charged', COALESCE(json_object_agg(unit, charged), '{}'::JSON)) FROM hold_caps WHERE hold_id = p_hold);
END $$;

-- A commit that waits for the disk, and so for every commit before it (PgDb.close).
CREATE FUNCTION lanes_flush() RETURNS VOID LANGUAGE sql AS $$ UPDATE lanes_schema SET version = version $$;
`;
