/**
 * The ledger's tables on PostgreSQL, as versioned migrations (`lanes_schema.version`): the same
 * tables and columns as the SQLite file (ledger-schema.ts) in PostgreSQL's types, plus the audit
 * trail's records, which live in the store with their head when the store is shared.
 */
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
