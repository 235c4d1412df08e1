/**
 * PostgreSQL from the calling thread through libpq (the optional `libpq` addon, built where the
 * libpq headers are installed). A statement is sent without blocking and its reply collected by
 * polling the connection with short, growing sleeps, so every call has a deadline and no thread is
 * ever left blocked in the driver (one blocked in libpq would hold the process open at exit).
 * It answers the same operations as pg-worker.mjs with about a fifth of the CPU per statement:
 * no worker thread, no message passing, no JavaScript protocol parser. Where the addon is missing
 * (or LANES_PG_DRIVER=worker), PgDb uses the worker instead.
 */
import { createRequire } from "node:module";
import type { PgOp, PgReply } from "./pg-db.js";

/** The part of the addon's API this uses (libpq's own functions, one for one). */
interface Pq {
  connectSync(conninfo: string): void;
  finish(): void;
  errorMessage(): string;
  transactionStatus(): number;
  sendQuery(sql: string): boolean;
  sendQueryParams(sql: string, params: (string | null)[]): boolean;
  sendPrepare(name: string, sql: string, nParams: number): boolean;
  sendQueryPrepared(name: string, params: (string | null)[]): boolean;
  consumeInput(): boolean;
  isBusy(): boolean;
  getResult(): boolean;
  resultStatus(): string;
  resultErrorMessage(): string;
  resultErrorFields(): { sqlState?: string; messagePrimary?: string } | null;
  ntuples(): number;
  nfields(): number;
  fname(i: number): string;
  ftype(i: number): number;
  getvalue(row: number, col: number): string;
  getisnull(row: number, col: number): boolean;
  cmdTuples(): string;
}

/**
 * A connection, and the statements prepared on it (by text: the server parses and plans each
 * once), each with how long to wait before first looking for its reply (see collect).
 */
type Conn = { pq: Pq; timeoutMs: number; prepared: Map<string, Prepared> };
type Prepared = { name: string; waitMs: number };
const MAX_PREPARED = 200;

const UNKNOWN = 4; // PQTRANS_UNKNOWN: the connection is bad
const pause = new Int32Array(new SharedArrayBuffer(4));

/** The addon's class, or undefined where it is not installed or the worker was asked for. */
function addon(): (new () => Pq) | undefined {
  if (process.env.LANES_PG_DRIVER === "worker") return undefined;
  try {
    return createRequire(import.meta.url)("libpq") as new () => Pq;
  } catch {
    return undefined;
  }
}

/** Which driver PgDb uses here (`lanes doctor` says). */
export function pgDriverName(): "libpq" | "worker thread" {
  return addon() ? "libpq" : "worker thread";
}

/** The driver, or undefined where the addon is not installed or the worker was asked for. */
export function libpqDriver(): ((op: PgOp) => PgReply) | undefined {
  const Pq = addon();
  if (!Pq) return undefined;
  const conns = new Map<string, Conn>();
  return (op) => {
    const c = conns.get(op.id);
    try {
      if (op.op === "open") {
        const pq = new Pq();
        pq.connectSync(conninfo(op.url, op.timeoutMs));
        conns.set(op.id, { pq, timeoutMs: op.timeoutMs, prepared: new Map() });
        return { ok: true };
      }
      if (op.op === "close") {
        conns.delete(op.id);
        if (c) finish(c.pq);
        return { ok: true };
      }
      if (!c) return { error: { message: "not connected", code: "LANES_CLOSED" } };
      return query(c, op.sql, op.params);
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.code === "ECONNLOST" || e.code === "ETIMEDOUT") {
        conns.delete(op.id);
        if (c) finish(c.pq);
      }
      return { error: { message: e.message.trim(), code: e.code ?? "ECONNREFUSED" } };
    }
  };
}

/**
 * Finished connections, kept for two turns of the event loop: the addon closes its poll handle
 * (registered with libuv when it connected) asynchronously, and an object collected before libuv
 * has closed it leaves libuv a freed handle, which aborts the process (seen once in CI).
 */
const finishing = new Set<Pq>();
function finish(pq: Pq): void {
  pq.finish();
  finishing.add(pq);
  setImmediate(() => setImmediate(() => finishing.delete(pq)).unref()).unref();
}

/** The URL with libpq's bounds on connecting and on a dead peer (seconds; 2 is libpq's least). */
function conninfo(url: string, timeoutMs: number): string {
  const u = new URL(url);
  const set = (k: string, v: string) => u.searchParams.has(k) || u.searchParams.set(k, v);
  set("connect_timeout", String(Math.max(2, Math.ceil(timeoutMs / 1000))));
  set("application_name", "lanes");
  set("keepalives_idle", "5");
  set("keepalives_interval", "2");
  set("keepalives_count", "3");
  set("tcp_user_timeout", String(timeoutMs));
  return u.toString();
}

function query(c: Conn, sql: string, params: unknown[]): PgReply {
  const { pq } = c;
  if (!params.length) return collect(c, pq.sendQuery(sql));
  let prepared = c.prepared.get(sql);
  if (!prepared && c.prepared.size < MAX_PREPARED) {
    const prep = collect(c, pq.sendPrepare(`l${c.prepared.size}`, sql, params.length));
    if (prep.error) return prep;
    prepared = { name: `l${c.prepared.size}`, waitMs: FIRST_LOOK_MS };
    c.prepared.set(sql, prepared);
  }
  const values = params.map(text);
  return collect(c, prepared ? pq.sendQueryPrepared(prepared.name, values) : pq.sendQueryParams(sql, values), prepared);
}

const FIRST_LOOK_MS = 0.05;
const MAX_FIRST_LOOK_MS = 2;
// A hit shrinks the first wait, a miss grows it as much: it settles where about half the first
// looks find the reply. (Waiting for nine in ten left the CPUs idle: 4-5 s idle of a bench's
// 110 s of CPU time became 18-29.) Looks after a miss start at half of it.
const SHRINK = 0.9;
const GROW = 1.1;
const FOLLOW = 2;

/**
 * The reply to what was just sent: every result read, the last one's rows, or its first error.
 * Each look costs a wake-up and a system call or two, which on a busy machine take the CPU from
 * the server itself. So a prepared statement's first look comes after about as long as its reply
 * usually takes, learnt from its earlier replies (a wake-up costs ~40 µs of CPU on a VM, even
 * a C program's nanosleep; looking every 50 µs, growing, took 7–8 looks a statement with 8
 * clients). Then looks come less and less often (up to every 5 ms): a slow reply costs few.
 */
function collect({ pq, timeoutMs }: Conn, sent: boolean, p?: Prepared): PgReply {
  if (!sent) throw failure(pq.errorMessage(), "ECONNLOST");
  const start = performance.now();
  let reply: PgReply = { rows: [], rowCount: 0 };
  let error: PgReply["error"];
  let ms = p ? Math.max(p.waitMs / FOLLOW, FIRST_LOOK_MS) : FIRST_LOOK_MS;
  if (p) Atomics.wait(pause, 0, 0, p.waitMs);
  let adapt = p; // once, at the look that finds the reply
  for (let looks = 0; ; looks++) {
    if (!pq.consumeInput()) throw failure(pq.errorMessage(), "ECONNLOST");
    if (pq.isBusy()) {
      if (performance.now() - start > timeoutMs) throw failure(`no reply within ${timeoutMs} ms`, "ETIMEDOUT");
      Atomics.wait(pause, 0, 0, ms);
      ms = Math.min(ms * 1.5, 5);
      continue;
    }
    if (adapt) {
      const found = looks === 0;
      adapt.waitMs = found
        ? Math.max(adapt.waitMs * SHRINK, FIRST_LOOK_MS)
        : Math.min(adapt.waitMs * GROW, MAX_FIRST_LOOK_MS);
      adapt = undefined;
    }
    if (!pq.getResult()) break;
    if (pq.resultStatus() === "PGRES_FATAL_ERROR") {
      const lost = pq.transactionStatus() === UNKNOWN;
      const fields = pq.resultErrorFields();
      error ??= { message: fields?.messagePrimary ?? pq.resultErrorMessage().trim(), code: fields?.sqlState ?? "" };
      if (lost) throw failure(error.message, "ECONNLOST");
    } else reply = rowsOf(pq);
  }
  return error ? { error } : reply;
}

function rowsOf(pq: Pq): PgReply {
  const names = Array.from({ length: pq.nfields() }, (_, i) => pq.fname(i));
  const parse = names.map((_, i) => parser(pq.ftype(i)));
  const rows: Record<string, unknown>[] = [];
  for (let r = 0; r < pq.ntuples(); r++) {
    const row: Record<string, unknown> = {};
    names.forEach((n, i) => (row[n] = pq.getisnull(r, i) ? null : parse[i]!(pq.getvalue(r, i))));
    rows.push(row);
  }
  const tuples = pq.cmdTuples();
  return { rows, rowCount: tuples ? Number(tuples) : rows.length };
}

/** Values as pg-worker.mjs gives them: numbers (BIGINT and NUMERIC too, as SQLite gives them), booleans, JSON. */
function parser(oid: number): (v: string) => unknown {
  if ([20, 21, 23, 26, 700, 701, 1700].includes(oid)) return Number;
  if (oid === 16) return (v) => v === "t";
  if (oid === 114 || oid === 3802) return (v) => JSON.parse(v) as unknown;
  return (v) => v;
}

function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean") return v ? "true" : "false";
  return typeof v === "string" ? v : String(v);
}

function failure(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}
