/** The ledger's tables, as versioned migrations (PRAGMA user_version), and its row types. */
export const MIGRATIONS: string[] = [
  `CREATE TABLE buckets (key TEXT PRIMARY KEY, unit TEXT NOT NULL, lim REAL NOT NULL, kind TEXT NOT NULL, resets_at TEXT NOT NULL,
     used REAL NOT NULL DEFAULT 0, held REAL NOT NULL DEFAULT 0);
   CREATE TABLE holds (id TEXT PRIMARY KEY, run_id TEXT NOT NULL, lane TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
     status TEXT NOT NULL, settled_at INTEGER, price_version TEXT);
   CREATE TABLE hold_buckets (hold_id TEXT NOT NULL, bucket_key TEXT NOT NULL, unit TEXT NOT NULL, reserved REAL NOT NULL, charged REAL NOT NULL DEFAULT 0,
     PRIMARY KEY (hold_id, bucket_key));
   CREATE TABLE hold_caps (hold_id TEXT NOT NULL, unit TEXT NOT NULL, cap REAL NOT NULL, charged REAL NOT NULL DEFAULT 0, PRIMARY KEY (hold_id, unit));
   CREATE TABLE charges (id INTEGER PRIMARY KEY AUTOINCREMENT, hold_id TEXT NOT NULL, at INTEGER NOT NULL, unit TEXT NOT NULL, amount REAL NOT NULL, note TEXT);
   CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, lane TEXT NOT NULL, template TEXT NOT NULL, tier TEXT NOT NULL,
     steps INTEGER NOT NULL, completion_per_step REAL NOT NULL, observation_per_step REAL NOT NULL, seconds_per_step REAL NOT NULL, cost_usd REAL,
     prompt_tps REAL, completion_tps REAL);
   CREATE INDEX holds_open ON holds (status, lane);
   CREATE INDEX history_key ON history (lane, template, id);`,
  `CREATE TABLE runs (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, lane TEXT NOT NULL, tier TEXT NOT NULL, task TEXT NOT NULL,
     status TEXT NOT NULL, check_result TEXT NOT NULL, cost_usd REAL NOT NULL, p90_usd REAL, cap_usd REAL NOT NULL, steps INTEGER NOT NULL,
     duration_ms INTEGER NOT NULL, hold_id TEXT, dir TEXT NOT NULL);`,
  `CREATE TABLE batches (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, file TEXT NOT NULL, name TEXT NOT NULL, cap_usd REAL NOT NULL, status TEXT NOT NULL);
   CREATE TABLE batch_tasks (batch_id TEXT NOT NULL, idx INTEGER NOT NULL, repo TEXT NOT NULL, task TEXT NOT NULL, status TEXT NOT NULL,
     run_id TEXT, hold_id TEXT, host TEXT, cost_usd REAL NOT NULL DEFAULT 0, check_result TEXT, patch TEXT, detail TEXT, attempts INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (batch_id, idx));`,
  // The audit trail's head (see audit.ts): a complete trail must end with this record.
  `CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);`,
  // Unpriced runs are metered in tokens; an endpoint that bills past the hold leaves an overage.
  `ALTER TABLE runs ADD COLUMN tokens INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE runs ADD COLUMN unpriced INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE runs ADD COLUMN overage_usd REAL NOT NULL DEFAULT 0;`,
  // Who holds a hold ("HOST:PID") and what its run was, so a crashed run is settled and listed.
  `ALTER TABLE holds ADD COLUMN owner TEXT;
   ALTER TABLE holds ADD COLUMN meta TEXT;`,
  // History per endpoint (its speeds are the endpoint's), with the prompt cache's measured share.
  `ALTER TABLE history ADD COLUMN endpoint TEXT;
   ALTER TABLE history ADD COLUMN cached_share REAL;
   CREATE INDEX history_tier ON history (lane, tier, id);
   CREATE INDEX history_endpoint ON history (endpoint, id);`,
  // Who ran it and the plan's p50, for `lanes report` (spend by team, user, project; accuracy).
  `ALTER TABLE runs ADD COLUMN user_name TEXT;
   ALTER TABLE runs ADD COLUMN team TEXT;
   ALTER TABLE runs ADD COLUMN project TEXT;
   ALTER TABLE runs ADD COLUMN p50_usd REAL;
   CREATE INDEX runs_created ON runs (created_at);`,
  // Fewer pages written per reserve and charge (each page is a WAL frame and two writes): holds
  // and their caps and buckets keyed by their primary key alone (no separate rowid tree), and
  // charges without AUTOINCREMENT's sqlite_sequence row (charges are never deleted, so rowids
  // still only grow).
  `CREATE TABLE holds_v2 (id TEXT PRIMARY KEY, run_id TEXT NOT NULL, lane TEXT NOT NULL, created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL, status TEXT NOT NULL, settled_at INTEGER, price_version TEXT, owner TEXT, meta TEXT) WITHOUT ROWID;
   INSERT INTO holds_v2 SELECT id, run_id, lane, created_at, expires_at, status, settled_at, price_version, owner, meta FROM holds;
   DROP TABLE holds;
   ALTER TABLE holds_v2 RENAME TO holds;
   CREATE INDEX holds_open ON holds (status, lane);
   CREATE TABLE hold_caps_v2 (hold_id TEXT NOT NULL, unit TEXT NOT NULL, cap REAL NOT NULL, charged REAL NOT NULL DEFAULT 0,
     PRIMARY KEY (hold_id, unit)) WITHOUT ROWID;
   INSERT INTO hold_caps_v2 SELECT hold_id, unit, cap, charged FROM hold_caps;
   DROP TABLE hold_caps;
   ALTER TABLE hold_caps_v2 RENAME TO hold_caps;
   CREATE TABLE hold_buckets_v2 (hold_id TEXT NOT NULL, bucket_key TEXT NOT NULL, unit TEXT NOT NULL, reserved REAL NOT NULL,
     charged REAL NOT NULL DEFAULT 0, PRIMARY KEY (hold_id, bucket_key)) WITHOUT ROWID;
   INSERT INTO hold_buckets_v2 SELECT hold_id, bucket_key, unit, reserved, charged FROM hold_buckets;
   DROP TABLE hold_buckets;
   ALTER TABLE hold_buckets_v2 RENAME TO hold_buckets;
   CREATE TABLE charges_v2 (id INTEGER PRIMARY KEY, hold_id TEXT NOT NULL, at INTEGER NOT NULL, unit TEXT NOT NULL, amount REAL NOT NULL,
     note TEXT);
   INSERT INTO charges_v2 SELECT id, hold_id, at, unit, amount, note FROM charges;
   DROP TABLE charges;
   ALTER TABLE charges_v2 RENAME TO charges;`,
  // A hold's money stays in the hold until a reservation of its bucket folds it in (see
  // sqlite-holds.ts): a charge writes two pages, not four. Open holds' charges come back out of
  // `used`, where they were moved; holds no longer open count as folded. Open holds are indexed
  // alone: settling deletes one small index entry instead of moving it across the index.
  `ALTER TABLE hold_buckets ADD COLUMN folded INTEGER NOT NULL DEFAULT 1;
   UPDATE buckets SET used = used - o.c, held = held + o.c
     FROM (SELECT hb.bucket_key, SUM(hb.charged) AS c FROM hold_buckets hb JOIN holds h ON h.id = hb.hold_id
           WHERE h.status = 'open' GROUP BY hb.bucket_key) AS o
     WHERE buckets.key = o.bucket_key;
   UPDATE hold_buckets SET folded = 0 WHERE hold_id IN (SELECT id FROM holds WHERE status = 'open');
   CREATE INDEX hold_buckets_unfolded ON hold_buckets (bucket_key) WHERE folded = 0;
   DROP INDEX holds_open;
   CREATE INDEX holds_open ON holds (lane) WHERE status = 'open';`,
];

export type { BatchTaskRow, RunRow } from "../../core/ports.js";
