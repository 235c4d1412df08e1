/** A real PostgreSQL server (scripts/postgres.sh starts it, idempotently) and a fresh database per test. */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { ROOT } from "./cli.js";

let url: string | undefined;

/** The server's URL (postgres://lanes:lanes@127.0.0.1:PORT/lanes), started if needed. */
export function pgServer(env: Record<string, string> = {}): string {
  if (url && !Object.keys(env).length) return url;
  const r = spawnSync("bash", [`${ROOT}/scripts/postgres.sh`], {
    encoding: "utf8",
    timeout: 300_000,
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`scripts/postgres.sh failed: ${r.stderr.slice(-800)}`);
  const found = /LANES_TEST_PG_URL=(\S+)/.exec(r.stdout)?.[1];
  if (!found) throw new Error(`scripts/postgres.sh printed no URL: ${r.stdout}`);
  if (!Object.keys(env).length) url = found;
  return found;
}

let swept = false;

/** A new, empty database on the server (named for when it was made); its URL. */
export async function freshDb(server = pgServer()): Promise<string> {
  const name = `t_${Date.now()}_${randomBytes(4).toString("hex")}`;
  const c = new pg.Client({ connectionString: server });
  await c.connect();
  try {
    if (!swept) await sweep(c);
    swept = true;
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(server);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Test databases made over two hours ago (no suite runs that long), and those of earlier helpers
 * (named without a time), dropped: on a long-lived machine they piled up by the hundred.
 */
async function sweep(c: pg.Client): Promise<void> {
  const { rows } = await c.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname ~ '^t_([0-9]+_[0-9a-f]{8}|[0-9a-f]{12})$'",
  );
  for (const { datname } of rows) {
    const made = /^t_(\d+)_/.exec(datname)?.[1];
    if (!made || Date.now() - Number(made) > 2 * 3_600_000)
      await c.query(`DROP DATABASE IF EXISTS ${datname}`).catch(() => {});
  }
}

export async function query(dbUrl: string, text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    return (await c.query(text, params)).rows;
  } finally {
    await c.end();
  }
}

/** A statement as the shared server's superuser (over its Unix socket; the tests run as root). */
export function superuser(sql: string, db = "postgres"): string {
  const dir = process.env.LANES_PG_DIR ?? "/var/lib/lanes-postgres";
  const port = process.env.LANES_PG_PORT ?? "55432";
  const psql = ["psql", "-h", dir, "-p", port, "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-Atc", sql];
  const r = spawnSync("runuser", ["-u", "postgres", "--", ...psql], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql as superuser failed: ${r.stderr}`);
  return r.stdout;
}

/** A login role in `lanes_client` (made if missing, as a database admin does); its URL for `db`. */
export function clientRole(db: string, name: string): string {
  superuser(
    "DO $$ BEGIN CREATE ROLE lanes_client NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;" +
      `DROP ROLE IF EXISTS ${name}; CREATE ROLE ${name} LOGIN PASSWORD '${name}-pw' IN ROLE lanes_client;`,
  );
  const u = new URL(db);
  u.username = name;
  u.password = `${name}-pw`;
  return u.toString();
}
