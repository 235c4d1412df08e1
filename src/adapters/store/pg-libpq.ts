/**
 * PostgreSQL from the calling thread through libpq (the optional `libpq` addon, built where the
 * libpq headers are installed). A statement is sent, then the thread waits in poll(2) on the
 * connection's socket until its reply arrives or the call's deadline passes (libc's poll, called
 * through the optional `koffi` FFI module): one wake-up per reply, when it arrives, and no thread
 * is ever left blocked in the driver (one blocked in libpq would hold the process open at exit).
 * It answers the same operations as pg-worker.mjs with about a tenth of the CPU per statement:
 * no worker thread, no message passing, no JavaScript protocol parser. Where either module is
 * missing (or LANES_PG_DRIVER=worker), PgDb uses the worker instead.
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
  socket(): number;
}

/**
 * A connection; the statements prepared on it (by text: the server parses and plans each once),
 * by name; and its socket as poll(2) takes it (`struct pollfd`: fd, events, revents).
 */
type Conn = { pq: Pq; timeoutMs: number; prepared: Map<string, string>; pollfd: Buffer };
const MAX_PREPARED = 200;

const UNKNOWN = 4; // PQTRANS_UNKNOWN: the connection is bad
const POLLIN = 1; // the same on Linux and macOS

/** poll(2): how many of the `nfds` descriptors are ready, 0 when the time ran out, -1 on a signal. */
type Poll = (fds: Buffer, nfds: number, timeoutMs: number) => number;
let poll: Poll | undefined;

/** The addon's class, or undefined where it is not installed or the worker was asked for. */
function addon(): (new () => Pq) | undefined {
  if (process.env.LANES_PG_DRIVER === "worker") return undefined;
  try {
    const load = createRequire(import.meta.url);
    const Pq = load("libpq") as new () => Pq;
    const koffi = load("koffi") as { load(lib: string): { func(signature: string): Poll } };
    const libc = process.platform === "darwin" ? "libSystem.B.dylib" : "libc.so.6";
    poll ??= koffi.load(libc).func("int poll(void *fds, unsigned long nfds, int timeout)");
    return Pq;
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
        const pollfd = Buffer.alloc(8);
        pollfd.writeInt32LE(pq.socket(), 0);
        pollfd.writeInt16LE(POLLIN, 4);
        conns.set(op.id, { pq, timeoutMs: op.timeoutMs, prepared: new Map(), pollfd });
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
    prepared = `l${c.prepared.size}`;
    c.prepared.set(sql, prepared);
  }
  const values = params.map(text);
  return collect(c, prepared ? pq.sendQueryPrepared(prepared, values) : pq.sendQueryParams(sql, values));
}

/**
 * The reply to what was just sent: every result read, the last one's rows, or its first error.
 * Between reads the thread sleeps in poll(2) until more of the reply arrives or the deadline
 * passes. (Sleeping a guessed while and looking took ~2.5 looks a statement with 8 clients, each
 * a timer wake-up that costs ~40 µs of CPU on a VM; a poll wakes once, when the reply is there:
 * 226 µs of client CPU a run instead of 356 with one client, bench/store.mjs.)
 */
function collect({ pq, timeoutMs, pollfd }: Conn, sent: boolean): PgReply {
  if (!sent) throw failure(pq.errorMessage(), "ECONNLOST");
  const start = performance.now();
  let reply: PgReply = { rows: [], rowCount: 0 };
  let error: PgReply["error"];
  for (;;) {
    // isBusy reads only what libpq has already received: no system call before the first wait.
    if (pq.isBusy()) {
      const left = timeoutMs - (performance.now() - start);
      if (left <= 0) throw failure(`no reply within ${timeoutMs} ms`, "ETIMEDOUT");
      poll!(pollfd, 1, Math.ceil(left)); // a signal (-1) or a timeout (0): the loop checks again
      if (!pq.consumeInput()) throw failure(pq.errorMessage(), "ECONNLOST");
      continue;
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
