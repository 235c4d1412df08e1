/**
 * The ledger's tables on PostgreSQL, as versioned migrations (`lanes_schema.version`): the same
 * tables and columns as the SQLite file (ledger-schema.ts) in PostgreSQL's types, plus the audit
 * trail's records, which live in the store with their head when the store is shared.
 */
import { PG_CHARGE_TOTALS } from "./pg-charge-totals.js";
import { PG_FOLD_AND_SETTLE } from "./pg-fold-settle.js";
import { PG_ROW_LOCKS } from "./pg-row-locks.js";
import { PG_ROLES } from "./pg-roles.js";

export const PG_MIGRATIONS: string[] = [
  `CREATE TABLE buckets (key TEXT PRIMARY KEY, unit TEXT NOT NULL, lim DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL,
     resets_at TEXT NOT NULL, used DOUBLE PRECISION NOT NULL DEFAULT 0, held DOUBLE PRECISION NOT NULL DEFAULT 0);
   CREATE TABLE holds (id TEXT PRIMARY KEY, run_id TEXT NOT NULL, lane TEXT NOT NULL, created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL, status TEXT NOT NULL, settled_at BIGINT, price_version TEXT, owner TEXT, meta TEXT);
   CREATE TABLE hold_buckets (hold_id TEXT NOT NULL, bucket_key TEXT NOT NULL, unit TEXT NOT NULL,
     reserved DOUBLE PRECISION NOT NULL, charged DOUBLE PRECISION NOT NULL DEFAULT 0, PRIMARY KEY (hold_id, bucket_key));
   CREATE TABLE hold_caps (hold_id TEXT NOT NULL, unit TEXT NOT NULL, cap DOUBLE PRECISION NOT NULL,
     charged DOUBLE PRECISION NOT NULL DEFAULT 0, PRIMARY KEY (hold_id, unit));
   CREATE TABLE charges (id BIGSERIAL PRIMARY KEY, hold_id TEXT NOT NULL, at BIGINT NOT NULL, unit TEXT NOT NULL,
     amount DOUBLE PRECISION NOT NULL, note TEXT);
   CREATE INDEX charges_hold ON charges (hold_id, unit);
   CREATE TABLE history (id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, lane TEXT NOT NULL, template TEXT NOT NULL,
     tier TEXT NOT NULL, steps INTEGER NOT NULL, completion_per_step DOUBLE PRECISION NOT NULL,
     observation_per_step DOUBLE PRECISION NOT NULL, seconds_per_step DOUBLE PRECISION NOT NULL, cost_usd DOUBLE PRECISION,
     prompt_tps DOUBLE PRECISION, completion_tps DOUBLE PRECISION, endpoint TEXT, cached_share DOUBLE PRECISION);
   CREATE INDEX holds_open ON holds (status, lane);
   CREATE INDEX history_key ON history (lane, template, id);
   CREATE INDEX history_tier ON history (lane, tier, id);
   CREATE INDEX history_endpoint ON history (endpoint, id);
   CREATE TABLE runs (id TEXT PRIMARY KEY, created_at BIGINT NOT NULL, lane TEXT NOT NULL, tier TEXT NOT NULL,
     task TEXT NOT NULL, status TEXT NOT NULL, check_result TEXT NOT NULL, cost_usd DOUBLE PRECISION NOT NULL,
     p90_usd DOUBLE PRECISION, cap_usd DOUBLE PRECISION NOT NULL, steps INTEGER NOT NULL, duration_ms BIGINT NOT NULL,
     hold_id TEXT, dir TEXT NOT NULL, tokens BIGINT NOT NULL DEFAULT 0, unpriced INTEGER NOT NULL DEFAULT 0,
     overage_usd DOUBLE PRECISION NOT NULL DEFAULT 0);
   CREATE TABLE batches (id TEXT PRIMARY KEY, created_at BIGINT NOT NULL, file TEXT NOT NULL, name TEXT NOT NULL,
     cap_usd DOUBLE PRECISION NOT NULL, status TEXT NOT NULL);
   CREATE TABLE batch_tasks (batch_id TEXT NOT NULL, idx INTEGER NOT NULL, repo TEXT NOT NULL, task TEXT NOT NULL,
     status TEXT NOT NULL, run_id TEXT, hold_id TEXT, host TEXT, cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
     check_result TEXT, patch TEXT, detail TEXT, attempts INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (batch_id, idx));
   CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL);
   CREATE TABLE audit_records (seq BIGINT PRIMARY KEY, line TEXT NOT NULL);`,
  // Who ran it and the plan's p50, for `lanes report` (spend by team, user, project; accuracy).
  `ALTER TABLE runs ADD COLUMN user_name TEXT;
   ALTER TABLE runs ADD COLUMN team TEXT;
   ALTER TABLE runs ADD COLUMN project TEXT;
   ALTER TABLE runs ADD COLUMN p50_usd DOUBLE PRECISION;
   CREATE INDEX runs_created ON runs (created_at);`,
];

/**
 * The hold operations as server-side functions (pg-holds.ts calls them): one round trip each
 * instead of one per statement, the same steps as hold-store.ts, each under the store's write lock
 * (7310001, as PgDb's transactions take it). Migration 4 (pg-row-locks.ts) replaces them with
 * functions that take row locks instead.
 */
PG_MIGRATIONS.push(`
CREATE FUNCTION lanes_expire(p_now BIGINT) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE h RECORD; n INTEGER := 0;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM holds WHERE status = 'open' AND expires_at < p_now) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(7310001);
  FOR h IN SELECT id FROM holds WHERE status = 'open' AND expires_at < p_now LOOP
    INSERT INTO charges (hold_id, at, unit, amount, note)
      SELECT h.id, p_now, unit, cap - charged, 'expired: charged at worst case' FROM hold_caps
      WHERE hold_id = h.id AND cap - charged > 0;
    UPDATE hold_caps SET charged = cap WHERE hold_id = h.id;
    UPDATE buckets b SET used = b.used + (hb.reserved - hb.charged), held = b.held - (hb.reserved - hb.charged)
      FROM hold_buckets hb WHERE hb.hold_id = h.id AND b.key = hb.bucket_key;
    UPDATE hold_buckets SET charged = reserved WHERE hold_id = h.id;
    UPDATE holds SET status = 'expired', settled_at = p_now WHERE id = h.id;
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

CREATE FUNCTION lanes_reserve(p_id TEXT, p_run TEXT, p_lane TEXT, p_now BIGINT, p_expires BIGINT, p_price TEXT,
  p_owner TEXT, p_meta TEXT, p_buckets JSON, p_caps JSON) RETURNS JSON LANGUAGE plpgsql AS $$
DECLARE b RECORD; r RECORD; amt DOUBLE PRECISION;
BEGIN
  PERFORM pg_advisory_xact_lock(7310001);
  PERFORM lanes_expire(p_now);
  FOR b IN SELECT * FROM json_to_recordset(p_buckets) AS x(key TEXT, unit TEXT, lim DOUBLE PRECISION, kind TEXT, resets_at TEXT) LOOP
    INSERT INTO buckets (key, unit, lim, kind, resets_at) VALUES (b.key, b.unit, b.lim, b.kind, b.resets_at)
      ON CONFLICT (key) DO UPDATE SET lim = excluded.lim, kind = excluded.kind, resets_at = excluded.resets_at;
  END LOOP;
  FOR b IN SELECT * FROM json_to_recordset(p_buckets) AS x(key TEXT, unit TEXT) LOOP
    amt := COALESCE((p_caps ->> b.unit)::DOUBLE PRECISION, 0);
    CONTINUE WHEN amt <= 0;
    SELECT used, held, lim, kind, resets_at INTO r FROM buckets WHERE key = b.key;
    IF r.kind = 'hard' AND r.used + r.held + amt > r.lim + 1e-9 THEN
      RETURN json_build_object('ok', false, 'key', b.key, 'unit', b.unit, 'used', r.used, 'held', r.held,
        'lim', r.lim, 'requested', amt, 'resets_at', r.resets_at);
    END IF;
  END LOOP;
  INSERT INTO holds (id, run_id, lane, created_at, expires_at, status, price_version, owner, meta)
    VALUES (p_id, p_run, p_lane, p_now, p_expires, 'open', p_price, p_owner, p_meta);
  INSERT INTO hold_caps (hold_id, unit, cap) SELECT p_id, key, value::DOUBLE PRECISION FROM json_each_text(p_caps);
  FOR b IN SELECT * FROM json_to_recordset(p_buckets) AS x(key TEXT, unit TEXT) LOOP
    amt := COALESCE((p_caps ->> b.unit)::DOUBLE PRECISION, 0);
    CONTINUE WHEN amt <= 0;
    UPDATE buckets SET held = held + amt WHERE key = b.key;
    INSERT INTO hold_buckets (hold_id, bucket_key, unit, reserved) VALUES (p_id, b.key, b.unit, amt);
  END LOOP;
  RETURN json_build_object('ok', true);
END $$;

CREATE FUNCTION lanes_charge(p_hold TEXT, p_unit TEXT, p_amount DOUBLE PRECISION, p_note TEXT, p_at BIGINT)
  RETURNS JSON LANGUAGE plpgsql AS $$
DECLARE st TEXT; c RECORD;
BEGIN
  PERFORM pg_advisory_xact_lock(7310001);
  SELECT status INTO st FROM holds WHERE id = p_hold;
  IF st IS NULL OR st <> 'open' THEN RETURN json_build_object('status', st); END IF;
  SELECT cap, charged INTO c FROM hold_caps WHERE hold_id = p_hold AND unit = p_unit;
  IF p_amount > COALESCE(c.cap - c.charged, 0) + 1e-12 THEN
    RETURN json_build_object('status', st, 'left', COALESCE(c.cap - c.charged, 0));
  END IF;
  UPDATE hold_caps SET charged = charged + p_amount WHERE hold_id = p_hold AND unit = p_unit;
  UPDATE buckets SET used = used + p_amount, held = held - p_amount
    WHERE key IN (SELECT bucket_key FROM hold_buckets WHERE hold_id = p_hold AND unit = p_unit);
  UPDATE hold_buckets SET charged = charged + p_amount WHERE hold_id = p_hold AND unit = p_unit;
  INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (p_hold, p_at, p_unit, p_amount, p_note);
  RETURN json_build_object('status', st, 'ok', true);
END $$;

CREATE FUNCTION lanes_refund(p_hold TEXT, p_unit TEXT, p_amount DOUBLE PRECISION, p_note TEXT, p_at BIGINT)
  RETURNS JSON LANGUAGE plpgsql AS $$
DECLARE st TEXT; back DOUBLE PRECISION;
BEGIN
  PERFORM pg_advisory_xact_lock(7310001);
  SELECT status INTO st FROM holds WHERE id = p_hold;
  IF st IS NULL OR st <> 'open' THEN RETURN json_build_object('status', st); END IF;
  SELECT LEAST(p_amount, COALESCE(charged, 0)) INTO back FROM hold_caps WHERE hold_id = p_hold AND unit = p_unit;
  IF COALESCE(back, 0) <= 0 THEN RETURN json_build_object('status', st, 'ok', true); END IF;
  UPDATE hold_caps SET charged = charged - back WHERE hold_id = p_hold AND unit = p_unit;
  UPDATE buckets SET used = used - back, held = held + back
    WHERE key IN (SELECT bucket_key FROM hold_buckets WHERE hold_id = p_hold AND unit = p_unit);
  UPDATE hold_buckets SET charged = charged - back WHERE hold_id = p_hold AND unit = p_unit;
  INSERT INTO charges (hold_id, at, unit, amount, note) VALUES (p_hold, p_at, p_unit, -back, p_note);
  RETURN json_build_object('status', st, 'ok', true);
END $$;

CREATE FUNCTION lanes_settle(p_hold TEXT, p_now BIGINT) RETURNS JSON LANGUAGE plpgsql AS $$
DECLARE st TEXT;
BEGIN
  PERFORM pg_advisory_xact_lock(7310001);
  SELECT status INTO st FROM holds WHERE id = p_hold;
  IF st IS NULL THEN RETURN NULL; END IF;
  IF st = 'open' THEN
    UPDATE buckets b SET held = b.held - (hb.reserved - hb.charged)
      FROM hold_buckets hb WHERE hb.hold_id = p_hold AND b.key = hb.bucket_key;
    UPDATE holds SET status = 'settled', settled_at = p_now WHERE id = p_hold;
    st := 'settled';
  END IF;
  RETURN json_build_object('status', st,
    'caps', (SELECT COALESCE(json_object_agg(unit, cap), '{}'::JSON) FROM hold_caps WHERE hold_id = p_hold),
    'charged', (SELECT COALESCE(json_object_agg(unit, charged), '{}'::JSON) FROM hold_caps WHERE hold_id = p_hold));
END $$;
`);
PG_MIGRATIONS.push(PG_ROW_LOCKS, PG_FOLD_AND_SETTLE, PG_CHARGE_TOTALS, PG_ROLES);
