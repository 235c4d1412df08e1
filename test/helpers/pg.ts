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

/** A new, empty database on the server; its URL. */
export async function freshDb(server = pgServer()): Promise<string> {
  const name = `t_${randomBytes(6).toString("hex")}`;
  const c = new pg.Client({ connectionString: server });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(server);
  u.pathname = `/${name}`;
  return u.toString();
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
