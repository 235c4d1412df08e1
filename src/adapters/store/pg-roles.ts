/**
 * Migration 7 of the PostgreSQL store: who is charged is the authenticated role, not a claim.
 *
 * People and CI jobs connect as login roles that are members of `lanes_client` (a role the
 * database admin creates; see the README's team store section). For such a role:
 *  - the ledger's functions run as their owner (SECURITY DEFINER, a fixed search_path), and the
 *    role itself is granted no write on the ledger's tables (buckets, holds, hold_caps,
 *    hold_buckets, charges, lanes_budgets): plain SQL cannot charge, refund or lift anything;
 *  - a reservation's `user:` buckets are the role's own (`session_user`), whatever user the client
 *    names, and the limits in `lanes_budgets` (per user, or `*` for every user, and global) are
 *    the server's: applied over what the client sends, and added when the client leaves them out;
 *  - a hold can be charged, refunded, settled or released only by the role that reserved it.
 * The store's owner (the role that migrates it) and superusers are the admin: trusted, as before.
 * Budgets of other scopes (team, project, lane) are still the ones the client's configuration
 * declares.
 */
export const PG_ROLES = `
ALTER TABLE holds ADD COLUMN role TEXT NOT NULL DEFAULT session_user;
CREATE TABLE lanes_budgets (scope TEXT NOT NULL CHECK (scope IN ('user', 'global')), id TEXT NOT NULL DEFAULT '*',
  period TEXT NOT NULL CHECK (period IN ('day', 'week', 'month')), unit TEXT NOT NULL DEFAULT 'usd'
  CHECK (unit IN ('usd', 'gpu_seconds', 'sandbox_seconds')), lim DOUBLE PRECISION NOT NULL CHECK (lim >= 0),
  kind TEXT NOT NULL DEFAULT 'hard' CHECK (kind IN ('soft', 'hard')), PRIMARY KEY (scope, id, period, unit));

-- Whether the session is a lanes client (not the owner, not a superuser): its claims are replaced.
CREATE FUNCTION lanes_is_client() RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lanes_client') THEN false
    ELSE pg_has_role(session_user, 'lanes_client', 'MEMBER')
      AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) END;
$$;

-- A period's instance and when the next starts, as the client writes them (core/quota.ts).
CREATE FUNCTION lanes_period(p_period TEXT, p_now BIGINT, OUT id TEXT, OUT resets_at TEXT) LANGUAGE sql IMMUTABLE AS $$
  WITH t AS (SELECT to_timestamp(p_now / 1000.0) AT TIME ZONE 'UTC' AS ts)
  SELECT CASE p_period WHEN 'day' THEN to_char(ts, 'YYYY-MM-DD') WHEN 'month' THEN to_char(ts, 'YYYY-MM')
      ELSE to_char(ts, 'IYYY-"W"IW') END,
    to_char(date_trunc(CASE p_period WHEN 'day' THEN 'day' WHEN 'month' THEN 'month' ELSE 'week' END, ts)
      + CASE p_period WHEN 'day' THEN interval '1 day' WHEN 'month' THEN interval '1 month' ELSE interval '7 days' END,
      'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
  FROM t;
$$;

-- A client's buckets with the role as the user, the server's limits over them, and the server's
-- buckets the client left out.
CREATE FUNCTION lanes_client_buckets(p_buckets JSON, p_now BIGINT) RETURNS JSON LANGUAGE sql STABLE AS $$
  WITH sent AS (
    SELECT regexp_replace(x.key, '^user:[^:]*:', 'user:' || session_user || ':') AS key, x.unit, x.lim, x.kind,
      x.resets_at, split_part(x.key, ':', 1) AS scope, split_part(x.key, ':', 3) AS period
    FROM json_to_recordset(p_buckets) AS x(key TEXT, unit TEXT, lim DOUBLE PRECISION, kind TEXT, resets_at TEXT)),
  server AS (
    SELECT DISTINCT ON (b.scope, b.period, b.unit) b.scope, b.period, b.unit, b.lim, b.kind,
      b.scope || CASE WHEN b.scope = 'user' THEN ':' || session_user ELSE ':all' END || ':' || b.period || ':'
        || p.id || CASE WHEN b.unit = 'usd' THEN '' ELSE ':' || b.unit END AS key, p.resets_at
    FROM lanes_budgets b, lanes_period(b.period, p_now) p
    WHERE b.scope = 'global' OR b.id = session_user::TEXT OR b.id = '*'
    ORDER BY b.scope, b.period, b.unit, (b.id = '*'))
  SELECT COALESCE(json_agg(json_build_object('key', key, 'unit', unit, 'lim', lim, 'kind', kind, 'resets_at', resets_at)),
    '[]'::JSON) FROM (
    SELECT s.key, s.unit, CASE WHEN v.lim IS NULL THEN s.lim ELSE LEAST(s.lim, v.lim) END AS lim,
      CASE WHEN v.kind = 'hard' THEN 'hard' ELSE s.kind END AS kind, s.resets_at
    FROM sent s LEFT JOIN server v ON v.key = s.key
    UNION ALL
    SELECT v.key, v.unit, v.lim, v.kind, v.resets_at FROM server v WHERE NOT EXISTS (SELECT 1 FROM sent s WHERE s.key = v.key)
  ) all_buckets;
$$;

CREATE FUNCTION lanes_own_hold(p_hold TEXT) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
  IF lanes_is_client() AND EXISTS (SELECT 1 FROM holds WHERE id = p_hold AND role <> session_user) THEN
    RAISE EXCEPTION 'lanes: hold % was reserved by another role', p_hold USING ERRCODE = '42501';
  END IF;
END $$;

ALTER FUNCTION lanes_reserve(TEXT, TEXT, TEXT, BIGINT, BIGINT, TEXT, TEXT, TEXT, JSON, JSON) RENAME TO lanes_reserve_as;
ALTER FUNCTION lanes_charge(TEXT, TEXT, DOUBLE PRECISION, TEXT, BIGINT, DOUBLE PRECISION, BOOLEAN) RENAME TO lanes_charge_as;
ALTER FUNCTION lanes_refund(TEXT, TEXT, DOUBLE PRECISION, TEXT, BIGINT, DOUBLE PRECISION, BOOLEAN) RENAME TO lanes_refund_as;
ALTER FUNCTION lanes_settle(TEXT, BIGINT, JSON) RENAME TO lanes_settle_as;

CREATE FUNCTION lanes_reserve(p_id TEXT, p_run TEXT, p_lane TEXT, p_now BIGINT, p_expires BIGINT, p_price TEXT,
  p_owner TEXT, p_meta TEXT, p_buckets JSON, p_caps JSON) RETURNS JSON LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  RETURN lanes_reserve_as(p_id, p_run, p_lane, p_now, p_expires, p_price, p_owner, p_meta,
    CASE WHEN lanes_is_client() THEN lanes_client_buckets(p_buckets, p_now) ELSE p_buckets END, p_caps);
END $$;

CREATE FUNCTION lanes_charge(p_hold TEXT, p_unit TEXT, p_amount DOUBLE PRECISION, p_note TEXT, p_at BIGINT,
  p_total DOUBLE PRECISION, p_wait BOOLEAN) RETURNS JSON LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  PERFORM lanes_own_hold(p_hold);
  RETURN lanes_charge_as(p_hold, p_unit, p_amount, p_note, p_at, p_total, p_wait);
END $$;

CREATE FUNCTION lanes_refund(p_hold TEXT, p_unit TEXT, p_amount DOUBLE PRECISION, p_note TEXT, p_at BIGINT,
  p_total DOUBLE PRECISION, p_wait BOOLEAN) RETURNS JSON LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  PERFORM lanes_own_hold(p_hold);
  RETURN lanes_refund_as(p_hold, p_unit, p_amount, p_note, p_at, p_total, p_wait);
END $$;

CREATE FUNCTION lanes_settle(p_hold TEXT, p_now BIGINT, p_totals JSON) RETURNS JSON LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  PERFORM lanes_own_hold(p_hold);
  RETURN lanes_settle_as(p_hold, p_now, p_totals);
END $$;

-- A crashed run's hold made to expire now (hold-store.ts): a client may do it to its own holds;
-- another role's expires at its own time.
CREATE FUNCTION lanes_release(p_hold TEXT) RETURNS VOID LANGUAGE sql SECURITY DEFINER AS $$
  UPDATE holds SET expires_at = 0 WHERE id = p_hold AND status = 'open' AND (NOT lanes_is_client() OR role = session_user);
$$;

-- Anyone may expire what has expired (it charges the worst case) and flush.
ALTER FUNCTION lanes_expire(BIGINT) SECURITY DEFINER;
ALTER FUNCTION lanes_flush() SECURITY DEFINER;

-- What a lanes client may do: read everything, write its runs, history, batches and audit trail,
-- and call the ledger's functions; never write the ledger's tables. Run again (by the owner)
-- after creating lanes_client: SELECT lanes_grant_client();
CREATE FUNCTION lanes_grant_client() RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE s TEXT := current_schema();
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lanes_client') THEN RETURN false; END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO lanes_client', s);
  EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO lanes_client', s);
  EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO lanes_client', s);
  GRANT INSERT, UPDATE ON runs, history, batches, batch_tasks, audit_head, audit_records TO lanes_client;
  RETURN true;
END $$;

DO $$
DECLARE s TEXT := current_schema(); f TEXT;
BEGIN
  -- The definer's functions see only this schema's tables (then pg_temp, last): a client cannot
  -- put a table of its own in their way.
  FOREACH f IN ARRAY ARRAY['lanes_reserve(TEXT, TEXT, TEXT, BIGINT, BIGINT, TEXT, TEXT, TEXT, JSON, JSON)',
    'lanes_charge(TEXT, TEXT, DOUBLE PRECISION, TEXT, BIGINT, DOUBLE PRECISION, BOOLEAN)',
    'lanes_refund(TEXT, TEXT, DOUBLE PRECISION, TEXT, BIGINT, DOUBLE PRECISION, BOOLEAN)',
    'lanes_settle(TEXT, BIGINT, JSON)', 'lanes_release(TEXT)', 'lanes_expire(BIGINT)', 'lanes_flush()'] LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, s);
  END LOOP;
  -- The inner functions and the grant are the owner's alone.
  FOREACH f IN ARRAY ARRAY['lanes_reserve_as(TEXT, TEXT, TEXT, BIGINT, BIGINT, TEXT, TEXT, TEXT, JSON, JSON)',
    'lanes_charge_as(TEXT, TEXT, DOUBLE PRECISION, TEXT, BIGINT, DOUBLE PRECISION, BOOLEAN)',
    'lanes_refund_as(TEXT, TEXT, DOUBLE PRECISION, TEXT, BIGINT, DOUBLE PRECISION, BOOLEAN)',
    'lanes_settle_as(TEXT, BIGINT, JSON)', 'lanes_grant_client()'] LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
  PERFORM lanes_grant_client();
END $$;
`;
