/**
 * The ledger on a PostgreSQL server (a team's shared store), behind the same synchronous Db port
 * as the SQLite file: each statement goes through libpq from this thread (pg-libpq.ts), or where
 * that addon is not installed to a worker thread (pg-worker.mjs, through synckit) that holds this
 * store's connection, and the caller waits for its answer. Write transactions take
 * one transaction-level advisory lock first, so writers from every process on every machine are
 * serialised exactly as SQLite's write lock serialises them on one machine. The hold operations
 * (reserve, charge, settle: the hot path) are single calls of server-side functions that take row
 * locks instead (pg-row-locks.ts), so runs on different holds proceed in parallel and a
 * reservation across several buckets still never oversubscribes a hard limit. Reads outside
 * a transaction are single statements. Migrations are versioned in `lanes_schema`, applied under
 * another advisory lock (two processes starting against a fresh database at once run each once),
 * and a database whose schema is newer than this lanes knows is refused.
 */
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createSyncFn } from "synckit";
import { LanesError } from "../../core/errors.js";
import type { Db, Statement } from "./db.js";
import { redact } from "./redact-url.js";
import { ownFile } from "../own-files.js";
import { libpqDriver } from "./pg-libpq.js";

export type PgReply = {
  rows?: Record<string, unknown>[];
  rowCount?: number;
  ok?: boolean;
  error?: { message: string; code: string };
};
export type PgOp =
  | { op: "open"; id: string; url: string; timeoutMs: number }
  | { op: "query"; id: string; sql: string; params: unknown[] }
  | { op: "close"; id: string };

const WRITE_LOCK = 7_310_001;
const MIGRATION_LOCK = 7_310_002;
let call: ((op: PgOp) => PgReply) | undefined;

export class PgDb implements Db {
  readonly kind = "postgres" as const;
  private depth = 0;
  private closed = false;
  /** The connection was lost: the next statement outside a transaction connects again first. */
  private broken = false;
  /** A commit since the last that waited for the disk did not wait (committedLater). */
  private unflushed = false;

  private constructor(
    private readonly id: string,
    readonly path: string,
    private readonly url: string,
    private readonly timeoutMs: number,
  ) {}

  /** Connect and bring the schema up to date (`migrations[i]` is version i + 1). */
  static open(url: string, migrations: string[], timeoutMs = 10_000): PgDb {
    call ??=
      libpqDriver() ?? createSyncFn(fileURLToPath(ownFile("adapters/store/pg-worker.mjs")), { timeout: timeoutMs * 3 });
    const db = new PgDb(`pg${randomBytes(6).toString("hex")}`, redact(url), url, timeoutMs);
    db.send({ op: "open", id: db.id, url, timeoutMs });
    db.migrate(migrations);
    return db;
  }

  sql(text: string): Statement {
    // `?` placeholders, as the stores write them for SQLite, become $1, $2, … (none is quoted).
    let n = 0;
    const pgText = text.replace(/\?/g, () => `$${++n}`);
    const query = (params: unknown[]) =>
      this.send({ op: "query", id: this.id, sql: pgText, params: params.map((p) => (p === undefined ? null : p)) });
    return {
      get: (...p) => query(p).rows?.[0],
      all: (...p) => query(p).rows ?? [],
      run: (...p) => ({ changes: query(p).rowCount ?? 0 }),
    };
  }

  /** One write transaction under the store-wide write lock; nested calls are savepoints. */
  atomically<T>(fn: () => T): T {
    return this.underLock(WRITE_LOCK, fn);
  }

  private underLock<T>(lock: number, fn: () => T): T {
    if (this.broken && this.depth === 0) this.reconnect();
    const depth = this.depth++;
    const exec = (s: string) => this.sql(s).run();
    try {
      // One round trip: BEGIN and the lock as one simple query.
      exec(depth === 0 ? `BEGIN; SELECT pg_advisory_xact_lock(${lock})` : `SAVEPOINT s${depth}`);
      const out = fn();
      exec(depth === 0 ? "COMMIT" : `RELEASE SAVEPOINT s${depth}`);
      return out;
    } catch (err) {
      try {
        exec(depth === 0 ? "ROLLBACK" : `ROLLBACK TO SAVEPOINT s${depth}`);
      } catch {
        /* the connection is gone: the server rolled the transaction back itself */
      }
      throw err;
    } finally {
      this.depth--;
    }
  }

  committedLater(): void {
    this.unflushed = true;
  }

  /** Closing waits for the disk when a commit of ours did not (one more commit that does). */
  close(): void {
    if (this.closed) return;
    if (this.unflushed && !this.broken && this.depth === 0)
      try {
        this.sql("SELECT lanes_flush()").get();
      } catch {
        /* unreachable now: the server flushes on its own within a fraction of a second */
      }
    this.closed = true;
    call?.({ op: "close", id: this.id });
  }

  /** The schema version this database is at, applying what is missing. */
  private migrate(migrations: string[]): void {
    // Every command opens the store: an up-to-date schema is two reads, without the lock.
    const present = (this.sql("SELECT to_regclass('lanes_schema') IS NOT NULL AS p").get() as { p: boolean }).p;
    const current = present
      ? (this.sql("SELECT version FROM lanes_schema").get() as { version: number } | undefined)
      : undefined;
    if (current?.version === migrations.length) return;
    this.underLock(MIGRATION_LOCK, () => {
      this.sql("CREATE TABLE IF NOT EXISTS lanes_schema (version INTEGER NOT NULL)").run();
      const row = this.sql("SELECT version FROM lanes_schema").get() as { version: number } | undefined;
      const v = row?.version ?? 0;
      if (v > migrations.length)
        throw new LanesError(
          "store",
          `the store at ${this.path} has schema version ${v}; this lanes knows up to ${migrations.length}`,
          { hint: "upgrade lanes (a newer version migrated this database); nothing was changed" },
        );
      for (let i = v; i < migrations.length; i++) this.sql(migrations[i]!).run();
      if (!row) this.sql("INSERT INTO lanes_schema (version) VALUES (?)").run(migrations.length);
      else if (v < migrations.length) this.sql("UPDATE lanes_schema SET version = ?").run(migrations.length);
    });
  }

  /**
   * Connect again before a statement, after the connection was lost. Not inside a transaction
   * (the server rolled it back; the caller heard so), and the statement that failed is never
   * repeated: whether it committed is unknown, and repeating a charge could count it twice.
   */
  private reconnect(): void {
    if (this.depth > 0) throw unreachable(this.path, "the connection was lost during this transaction");
    call!({ op: "close", id: this.id });
    const reply = call!({ op: "open", id: this.id, url: this.url, timeoutMs: this.timeoutMs });
    if (reply.error) throw unreachable(this.path, reply.error.message);
    this.broken = false;
  }

  private send(op: PgOp): PgReply {
    if (this.closed) throw new LanesError("store", `the store at ${this.path} is closed`);
    if (this.broken && op.op === "query") this.reconnect();
    let reply: PgReply;
    try {
      reply = call!(op);
    } catch (err) {
      throw unreachable(this.path, (err as Error).message);
    }
    if (!reply.error) return reply;
    const { code, message } = reply.error;
    // Class 08 (connection), 57P (shutdown), and the driver's own network errors: unreachable.
    if (
      /^(08|57P)/.test(code) ||
      /^E[A-Z]+$/.test(code) ||
      /terminat|timeout|not connected|Connection/i.test(message)
    ) {
      this.broken = true;
      throw unreachable(this.path, message);
    }
    throw new LanesError("store", `the store at ${this.path} failed: ${message}${code ? ` (${code})` : ""}`);
  }
}

function unreachable(path: string, detail: string): LanesError {
  return new LanesError("store", `the store at ${path} is unreachable: ${detail}`, {
    hint: "nothing was spent without it; retry when the database is back (`lanes doctor` checks it)",
    details: { retryable: true },
  });
}
