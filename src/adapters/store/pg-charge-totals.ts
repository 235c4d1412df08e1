/**
 * Migration 6 of the PostgreSQL store: one commit a run waits for the disk instead of two.
 * What must survive a server crash is that money spent is counted. A hold that exists counts
 * at its whole cap until it is settled or expires (and expiring charges the whole cap), so once
 * a run's reservation is on disk, whatever it spends within the hold is counted — unless a
 * settlement closes the hold at a total that is missing charges the crash lost. So:
 *  - The run's first charge waits for the disk (it flushes the reservation with it: the server
 *    writes its log in order); later charges and refunds of the same hold do not (`p_wait`).
 *  - Each charge and refund carries the run's own running total for the hold (`p_total`, counted
 *    by the process that reserved it, HoldStore), and the hold's total becomes the larger of the
 *    two, so a charge a crash lost is counted again by the next one; the settlement carries the
 *    run's totals too (a second lanes_settle, which then settles as migration 5's does). The
 *    difference is logged as a charge, so the log still sums to the totals.
 *  - A hold's charge is still refused past its cap, now on the larger total; and a hold whose
 *    process is gone is left open to expire at its worst case, as before.
 * A caller that does not know a hold's total (not its own hold) passes NULL and waits.
 *
 * And the fold and the as-seen read (pg-fold-settle.ts) find a bucket's unfolded holds by a
 * plain scan of their partial index, never a bitmap or a sequential scan. Folding a hold leaves
 * its old entry in that index until a vacuum (the new row version is not in it); a plain index
 * scan marks such entries dead as it passes, so the next scan skips them, while a bitmap scan
 * visits every one every time: 24,000 runs with 8 clients left ~24,000 entries that each fold
 * read (a fold took 1.4-7.5 ms, its reservation holding the bucket's row lock meanwhile; with
 * plain scans ~0.5 ms). The planner picks the bitmap scan, or with stale statistics a sequential
 * one, unless told not to.
 */
export const PG_CHARGE_TOTALS = `
ALTER FUNCTION lanes_fold(TEXT) SET enable_indexscan = on;
ALTER FUNCTION lanes_fold(TEXT) SET enable_bitmapscan = off;
ALTER FUNCTION lanes_fold(TEXT) SET enable_seqscan = off;
ALTER FUNCTION lanes_seen(TEXT) SET enable_indexscan = on;
ALTER FUNCTION lanes_seen(TEXT) SET enable_bitmapscan = off;
ALTER FUNCTION lanes_seen(TEXT) SET enable_seqscan = off;
DROP FUNCTION lanes_charge(TEXT, TEXT, DOUBLE PRECISION, TEXT, BIGINT);
DROP FUNCTION lanes_refund(TEXT, TEXT, DOUBLE PRECISION, TEXT, BIGINT);

-- The common case first, one statement as before: the server has what the run counted.
CREATE FUNCTION lanes_charge(p_hold TEXT, p_unit TEXT, p_amount DOUBLE PRECISION, p_note TEXT, p_at BIGINT,
  p_total DOUBLE PRECISION, p_wait BOOLEAN) RETURNS JSON LANGUAGE plpgsql AS $$
DECLARE c RECORD; n DOUBLE PRECISION;
BEGIN
  IF NOT p_wait THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  UPDATE hold_caps SET charged = charged + p_amount
    WHERE hold_id = p_hold AND unit = p_unit AND open AND p_amount <= cap - charged + 1e-12
      AND (p_total IS NULL OR abs(charged + p_amount - p_total) <= 1e-9);
  IF FOUND THEN
    INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (p_hold, p_at, p_unit, p_amount, p_note);
    RETURN json_build_object('status', 'open', 'ok', true);
  END IF;
  SELECT open, cap, charged INTO c FROM hold_caps WHERE hold_id = p_hold AND unit = p_unit FOR NO KEY UPDATE;
  IF c.open THEN
    n := GREATEST(c.charged + p_amount, COALESCE(p_total, 0));
    IF n > c.cap + 1e-12 THEN RETURN json_build_object('status', 'open', 'left', c.cap - (n - p_amount)); END IF;
    UPDATE hold_caps SET charged = n WHERE hold_id = p_hold AND unit = p_unit;
    INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (p_hold, p_at, p_unit, n - c.charged,
      CASE WHEN n - c.charged > p_amount + 1e-12 THEN p_note || ' (and charges a server crash lost)' ELSE p_note END);
    RETURN json_build_object('status', 'open', 'ok', true);
  END IF;
  SELECT status INTO c FROM holds WHERE id = p_hold;
  IF c.status IS DISTINCT FROM 'open' THEN RETURN json_build_object('status', c.status); END IF;
  RETURN json_build_object('status', 'open', 'left', 0);
END $$;

CREATE FUNCTION lanes_refund(p_hold TEXT, p_unit TEXT, p_amount DOUBLE PRECISION, p_note TEXT, p_at BIGINT,
  p_total DOUBLE PRECISION, p_wait BOOLEAN) RETURNS JSON LANGUAGE plpgsql AS $$
DECLARE c RECORD; n DOUBLE PRECISION;
BEGIN
  IF NOT p_wait THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  SELECT open, charged INTO c FROM hold_caps WHERE hold_id = p_hold AND unit = p_unit FOR NO KEY UPDATE;
  IF c.open IS NOT TRUE THEN
    RETURN json_build_object('status', (SELECT status FROM holds WHERE id = p_hold));
  END IF;
  n := GREATEST(c.charged - LEAST(p_amount, c.charged), COALESCE(p_total, 0));
  IF n <> c.charged THEN
    UPDATE hold_caps SET charged = n WHERE hold_id = p_hold AND unit = p_unit;
    INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (p_hold, p_at, p_unit, n - c.charged, p_note);
  END IF;
  RETURN json_build_object('status', 'open', 'ok', true);
END $$;

-- Settling with the run's totals: charges a server crash lost are counted again while the hold is
-- still open (its row locked first: the lock order is holds, then hold_caps), then the hold is
-- settled as before (pg-fold-settle.ts).
CREATE FUNCTION lanes_settle(p_hold TEXT, p_now BIGINT, p_totals JSON) RETURNS JSON LANGUAGE plpgsql AS $$
BEGIN
  IF p_totals IS NOT NULL AND EXISTS (SELECT 1 FROM hold_caps WHERE hold_id = p_hold AND open
      AND charged + 1e-12 < (p_totals ->> unit)::DOUBLE PRECISION) THEN
    PERFORM 1 FROM holds WHERE id = p_hold AND status = 'open' FOR NO KEY UPDATE;
    INSERT INTO charges (hold_id, at, unit, amount, note)
      SELECT p_hold, p_now, unit, (p_totals ->> unit)::DOUBLE PRECISION - charged, 'charges a server crash lost'
      FROM hold_caps WHERE hold_id = p_hold AND open AND charged + 1e-12 < (p_totals ->> unit)::DOUBLE PRECISION;
    UPDATE hold_caps SET charged = (p_totals ->> unit)::DOUBLE PRECISION
      WHERE hold_id = p_hold AND open AND charged + 1e-12 < (p_totals ->> unit)::DOUBLE PRECISION;
  END IF;
  RETURN lanes_settle(p_hold, p_now);
END $$;
`;
