/**
 * Migration 4 of the PostgreSQL store: the hold functions take row locks instead of one store-wide
 * lock, and only a reservation touches the bucket rows every run shares, so runs proceed in
 * parallel and each commits the shared rows once. What makes this safe:
 *  - A hold's money stays in the hold until it is folded into its buckets. A reservation adds its
 *    cap to the bucket's `held` at once. A charge or refund changes only its own `hold_caps` row,
 *    and only while that row is `open`. Settling or expiring a hold closes its rows (`open`
 *    false); reservations fold closed holds in (used += charged, held -= cap) one time in eight,
 *    and whenever the bucket seems full. Until then a closed hold counts as its whole cap, more
 *    than it spent, so a reservation that fits without folding fits: most reservations write
 *    the bucket row once. One that does not is decided on what the closed holds charged.
 *  - A reservation writes its own hold first, then per bucket in key order adds its cap only
 *    where used + held + cap stays within a hard limit — one conditional upsert, checked again on
 *    the newest row by the server — so concurrent reservations can never oversubscribe a bucket.
 *    A refused one takes back what it added and deletes its hold.
 *  - A reservation commits without waiting for the disk (its transaction only), so the bucket rows
 *    are not locked for a flush: a reservation lost in a server crash frees what it held, and its
 *    run's next charge finds no hold and stops. Nothing is spent without a durable charge: charges
 *    wait for the disk, and flushing one flushes every commit before it. (Settlements waited too;
 *    since migration 5 they do not: pg-fold-settle.ts; since migration 6 only a run's first
 *    charge does: pg-charge-totals.ts.)
 *  - Lock order: holds, then hold_caps, then buckets in key order; a charge locks only its
 *    hold_caps row, and expiry and folding skip rows another transaction has locked, so the only
 *    waits are for bucket rows, in key order: no cycle, no deadlock.
 *  - `status` reads add open holds' charges to used and closed, unfolded holds' outcomes
 *    (pg-holds.ts), so what a user sees is exact. Expiry runs whenever a ledger opens.
 * The first steps convert existing rows: open holds' charges back out of `used` (the old
 * functions moved them there), and every hold that is not open marked closed and folded.
 */
export const PG_ROW_LOCKS = `
ALTER TABLE hold_caps ADD COLUMN open BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE hold_buckets ADD COLUMN folded BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE hold_buckets ALTER COLUMN folded SET DEFAULT false;
UPDATE hold_caps SET open = false WHERE hold_id IN (SELECT id FROM holds WHERE status <> 'open');
UPDATE buckets b SET used = b.used - o.c, held = b.held + o.c
  FROM (SELECT hb.bucket_key, SUM(hb.charged) AS c FROM hold_buckets hb JOIN holds h ON h.id = hb.hold_id
        WHERE h.status = 'open' GROUP BY hb.bucket_key) o
  WHERE b.key = o.bucket_key;
UPDATE hold_buckets SET folded = false WHERE hold_id IN (SELECT id FROM holds WHERE status = 'open');
CREATE INDEX hold_buckets_unfolded ON hold_buckets (bucket_key) WHERE NOT folded;
DROP INDEX holds_open;
CREATE INDEX holds_open ON holds (lane) WHERE status = 'open';
-- A hold's charged total is kept in its caps row (read by key); the charge rows are a log.
DROP INDEX charges_hold;

CREATE OR REPLACE FUNCTION lanes_expire(p_now BIGINT) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE ids TEXT[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM holds WHERE status = 'open' AND expires_at < p_now) THEN RETURN 0; END IF;
  SELECT array_agg(id) INTO ids FROM
    (SELECT id FROM holds WHERE status = 'open' AND expires_at < p_now FOR NO KEY UPDATE SKIP LOCKED) s;
  IF ids IS NULL THEN RETURN 0; END IF;
  PERFORM 1 FROM hold_caps WHERE hold_id = ANY (ids) FOR NO KEY UPDATE;
  INSERT INTO charges (hold_id, at, unit, amount, note)
    SELECT hold_id, p_now, unit, cap - charged, 'expired: charged at worst case' FROM hold_caps
    WHERE hold_id = ANY (ids) AND cap - charged > 0;
  UPDATE hold_caps SET charged = cap, open = false WHERE hold_id = ANY (ids);
  UPDATE holds SET status = 'expired', settled_at = p_now WHERE id = ANY (ids);
  RETURN array_length(ids, 1);
END $$;

-- A bucket as users see it (as sqlite-holds.ts reads it): open holds' charges count as used, and
-- a closed hold not yet folded in as what it charged, no longer as its cap.
CREATE FUNCTION lanes_seen(p_key TEXT, OUT used DOUBLE PRECISION, OUT held DOUBLE PRECISION) LANGUAGE sql AS $$
  SELECT k.used + COALESCE(SUM(c.charged), 0),
    k.held - COALESCE(SUM(CASE WHEN c.open THEN c.charged ELSE hb.reserved END), 0)
    FROM buckets k LEFT JOIN hold_buckets hb ON hb.bucket_key = k.key AND NOT hb.folded
    LEFT JOIN hold_caps c ON c.hold_id = hb.hold_id AND c.unit = hb.unit WHERE k.key = p_key GROUP BY k.key;
$$;

-- Closed holds of a bucket folded into it; rows another transaction has locked are left for later.
CREATE FUNCTION lanes_fold(p_key TEXT) RETURNS VOID LANGUAGE sql AS $$
  WITH closed AS (
    SELECT hb.hold_id, hb.reserved, c.charged FROM hold_buckets hb
      JOIN hold_caps c ON c.hold_id = hb.hold_id AND c.unit = hb.unit
      WHERE hb.bucket_key = p_key AND NOT hb.folded AND NOT c.open FOR UPDATE OF hb SKIP LOCKED),
  f AS (UPDATE hold_buckets hb SET folded = true FROM closed WHERE hb.hold_id = closed.hold_id AND hb.bucket_key = p_key
    RETURNING closed.charged, closed.reserved),
  s AS (SELECT COUNT(*) AS n, COALESCE(SUM(charged), 0) AS c, COALESCE(SUM(reserved), 0) AS r FROM f)
  UPDATE buckets k SET used = k.used + s.c, held = k.held - s.r FROM s WHERE k.key = p_key AND s.n > 0;
$$;

CREATE OR REPLACE FUNCTION lanes_reserve(p_id TEXT, p_run TEXT, p_lane TEXT, p_now BIGINT, p_expires BIGINT, p_price TEXT,
  p_owner TEXT, p_meta TEXT, p_buckets JSON, p_caps JSON) RETURNS JSON LANGUAGE plpgsql AS $$
DECLARE b RECORD; r RECORD; amt DOUBLE PRECISION; added BOOLEAN; over BOOLEAN; done TEXT[] := '{}';
BEGIN
  -- The bucket rows stay locked until commit: without waiting for the disk there (see above).
  PERFORM set_config('synchronous_commit', 'off', true);
  INSERT INTO holds (id, run_id, lane, created_at, expires_at, status, price_version, owner, meta)
    VALUES (p_id, p_run, p_lane, p_now, p_expires, 'open', p_price, p_owner, p_meta);
  INSERT INTO hold_caps (hold_id, unit, cap) SELECT p_id, key, value::DOUBLE PRECISION FROM json_each_text(p_caps);
  INSERT INTO hold_buckets (hold_id, bucket_key, unit, reserved)
    SELECT p_id, x.key, x.unit, (p_caps ->> x.unit)::DOUBLE PRECISION FROM json_to_recordset(p_buckets) AS x(key TEXT, unit TEXT)
    WHERE (p_caps ->> x.unit)::DOUBLE PRECISION > 0;
  FOR b IN SELECT * FROM json_to_recordset(p_buckets) AS x(key TEXT, unit TEXT, lim DOUBLE PRECISION, kind TEXT, resets_at TEXT)
    ORDER BY key LOOP
    amt := GREATEST(COALESCE((p_caps ->> b.unit)::DOUBLE PRECISION, 0), 0);
    -- Closed holds are folded in now and then, and whenever the bucket seems full (see above).
    IF random() < 0.125 THEN PERFORM lanes_fold(b.key); END IF;
    INSERT INTO buckets AS k (key, unit, lim, kind, resets_at, held) VALUES (b.key, b.unit, b.lim, b.kind, b.resets_at, amt)
      ON CONFLICT (key) DO UPDATE SET lim = excluded.lim, kind = excluded.kind, resets_at = excluded.resets_at,
        held = k.held + amt
      WHERE excluded.kind <> 'hard' OR amt = 0 OR k.used + k.held + amt <= excluded.lim + 1e-9
      RETURNING used, held, lim INTO r;
    added := FOUND;
    -- A new bucket takes the cap unchecked: over a hard limit at once, it is refused below.
    over := added AND b.kind = 'hard' AND amt > 0 AND r.used + r.held > r.lim + 1e-9;
    IF NOT added THEN
      -- Refused with closed holds at their whole caps: decide on what they charged, under the
      -- row's lock (a fold in flight is in neither the row nor its holds' marks: the sum is exact).
      PERFORM 1 FROM buckets WHERE key = b.key FOR NO KEY UPDATE;
      SELECT * INTO r FROM lanes_seen(b.key);
      IF r.used + r.held + amt <= b.lim + 1e-9 THEN
        UPDATE buckets SET lim = b.lim, kind = b.kind, resets_at = b.resets_at, held = held + amt WHERE key = b.key;
        added := true;
      END IF;
    END IF;
    IF NOT added OR over THEN
      IF added THEN done := done || b.key; END IF;
      UPDATE buckets k SET held = k.held - COALESCE((p_caps ->> k.unit)::DOUBLE PRECISION, 0) WHERE k.key = ANY (done);
      SELECT * INTO r FROM lanes_seen(b.key);
      DELETE FROM hold_buckets WHERE hold_id = p_id;
      DELETE FROM hold_caps WHERE hold_id = p_id;
      DELETE FROM holds WHERE id = p_id;
      RETURN json_build_object('ok', false, 'key', b.key, 'unit', b.unit, 'used', r.used, 'held', r.held,
        'lim', b.lim, 'requested', amt, 'resets_at', b.resets_at);
    END IF;
    done := done || b.key;
  END LOOP;
  RETURN json_build_object('ok', true);
END $$;

CREATE OR REPLACE FUNCTION lanes_charge(p_hold TEXT, p_unit TEXT, p_amount DOUBLE PRECISION, p_note TEXT, p_at BIGINT)
  RETURNS JSON LANGUAGE plpgsql AS $$
DECLARE c RECORD;
BEGIN
  UPDATE hold_caps SET charged = charged + p_amount
    WHERE hold_id = p_hold AND unit = p_unit AND open AND p_amount <= cap - charged + 1e-12;
  IF FOUND THEN
    INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (p_hold, p_at, p_unit, p_amount, p_note);
    RETURN json_build_object('status', 'open', 'ok', true);
  END IF;
  SELECT h.status, cap - charged AS left INTO c FROM holds h LEFT JOIN hold_caps ON hold_id = h.id AND unit = p_unit
    WHERE h.id = p_hold;
  IF c.status IS DISTINCT FROM 'open' THEN RETURN json_build_object('status', c.status); END IF;
  RETURN json_build_object('status', c.status, 'left', COALESCE(c.left, 0));
END $$;

CREATE OR REPLACE FUNCTION lanes_refund(p_hold TEXT, p_unit TEXT, p_amount DOUBLE PRECISION, p_note TEXT, p_at BIGINT)
  RETURNS JSON LANGUAGE plpgsql AS $$
DECLARE c RECORD; back DOUBLE PRECISION;
BEGIN
  SELECT open, charged INTO c FROM hold_caps WHERE hold_id = p_hold AND unit = p_unit FOR NO KEY UPDATE;
  IF c.open IS NOT TRUE THEN
    RETURN json_build_object('status', (SELECT status FROM holds WHERE id = p_hold));
  END IF;
  back := LEAST(p_amount, c.charged);
  IF back > 0 THEN
    UPDATE hold_caps SET charged = charged - back WHERE hold_id = p_hold AND unit = p_unit;
    INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (p_hold, p_at, p_unit, -back, p_note);
  END IF;
  RETURN json_build_object('status', 'open', 'ok', true);
END $$;

CREATE OR REPLACE FUNCTION lanes_settle(p_hold TEXT, p_now BIGINT) RETURNS JSON LANGUAGE plpgsql AS $$
DECLARE st TEXT;
BEGIN
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
`;
