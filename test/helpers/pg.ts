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
