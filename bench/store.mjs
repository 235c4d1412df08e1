#!/usr/bin/env node
// Store benchmark, one run: runs per second (reserve + 2 charges + settle against one team bucket)
// with 1 and 8 client processes, on a SQLite file and on PostgreSQL over loopback
// (scripts/postgres.sh), in the same run. Targets: SQLite >= 2,500 runs/s with 1 client;
// PostgreSQL >= 1,000 runs/s with 8 clients.
//   npm run build && node bench/store.mjs [RUNS_PER_CLIENT, default 3000]
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const self = fileURLToPath(import.meta.url);
const { Ledger } = await import("../dist/adapters/store/ledger.js");
const bucket = {
  key: "team:bench:month:2026-12",
  scope: "team",
  id: "bench",
  period: "month",
  unit: "usd",
  limit: 1e9,
  kind: "hard",
  resetsAt: "2027-01-01T00:00:00.000Z",
};

if (process.argv[2] === "--worker") {
  const [, , , where, n] = process.argv;
  const ledger = await Ledger.openAt(where);
  // Every client starts, connects and then waits for the others: starting Node (~0.4 s of CPU
  // each) is not part of a run and must not share the CPUs with the timed runs.
  process.stdout.write("ready\n");
  await new Promise((go) => process.stdin.once("data", go));
  const start = Date.now();
  for (let i = 0; i < Number(n); i++) {
    const h = ledger.reserve({
      runId: `b${process.pid}-${i}`,
      lane: "bench",
      buckets: [bucket],
      caps: { usd: 1 },
      ttlMs: 60_000,
    });
    ledger.charge(h.id, "usd", 0.25, "a");
    ledger.charge(h.id, "usd", 0.25, "b");
    ledger.settle(h.id);
  }
  process.stdout.write(JSON.stringify({ start, end: Date.now() }));
  ledger.close();
  process.exit(0);
}

// 3,000 runs a client: 300 are a fifth of a second on SQLite, mostly the process warming up
// (statements prepared, code compiled), not the store's steady rate.
const N = Number(process.argv[2] ?? 3000);
async function clients(where, k) {
  const ready = [];
  const done = Array.from({ length: k }, () => {
    const p = spawn(process.execPath, [self, "--worker", where, String(N)], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    ready.push(new Promise((r) => p.stdout.once("data", () => r(p))));
    p.stdout.on("data", (d) => (out += d));
    return new Promise((resolve, reject) =>
      p.on("exit", (c) =>
        c === 0 ? resolve(JSON.parse(out.slice(out.indexOf("\n") + 1))) : reject(new Error(`worker exited ${c}`)),
      ),
    );
  });
  for (const p of await Promise.all(ready)) p.stdin.end("go\n");
  return Promise.all(done);
}
const pgUrl = /LANES_TEST_PG_URL=(\S+)/.exec(
  spawnSync("bash", [fileURLToPath(new URL("../scripts/postgres.sh", import.meta.url))], { encoding: "utf8" }).stdout,
)?.[1];
const pg = (await import("pg")).default;
async function freshPg(syncCommit = "on") {
  const name = `bench_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  // off: a crashed server may lose its last fraction of a second of commits (never corrupts them).
  await c.query(`ALTER DATABASE ${name} SET synchronous_commit = ${syncCommit}`);
  await c.end();
  const u = new URL(pgUrl);
  u.pathname = `/${name}`;
  (await Ledger.openAt(u.toString())).close(); // migrated before timing
  return u.toString();
}
/** The run's store removed, so repeated runs leave nothing behind (nor a server slowed by it). */
async function drop(where) {
  if (!where.startsWith("postgres")) return rmSync(dirname(where), { recursive: true, force: true });
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${new URL(where).pathname.slice(1)}`);
  await c.end();
}
const freshSqlite = () => {
  const path = join(mkdtempSync(join(tmpdir(), "lanes-bench-store-")), "ledger.db");
  Ledger.open(path).close();
  return path;
};

const rows = [];
for (const [store, fresh] of [
  ["SQLite file", freshSqlite],
  ["PostgreSQL (loopback)", freshPg],
  ["PostgreSQL, async commit", () => freshPg("off")],
]) {
  for (const k of [1, 8]) {
    const where = await fresh();
    // From the first client's first reservation to the last client's last settle, once all are
    // connected.
    const spans = await clients(where, k);
    const wall = (Math.max(...spans.map((s) => s.end)) - Math.min(...spans.map((s) => s.start))) / 1000;
    rows.push({ store, clients: k, runsPerSecond: Math.round((k * N) / wall) });
    await drop(where);
  }
}
console.log(`runs/s (reserve + 2 charges + settle), ${N} runs per client:`);
for (const r of rows)
  console.log(`  ${r.store.padEnd(25)} ${String(r.clients).padStart(2)} client(s): ${r.runsPerSecond} runs/s`);
const base = rows[0].runsPerSecond;
for (const r of rows.slice(1))
  console.log(`  ${r.store} x${r.clients} / SQLite x1: ${(r.runsPerSecond / base).toFixed(2)}`);
