/**
 * One SQLite connection (WAL) for the ledger's stores: prepared statements compiled once, write
 * transactions, and SQLite failures turned into errors a user can act on. A busy database is
 * waited for (10 s, SQLite's own busy timeout) and then reported as a store error, not a usage one.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { LanesError } from "../../core/errors.js";
import type { Db } from "./db.js";

export class SqliteDb implements Db {
  readonly kind = "sqlite" as const;
  /** Prepared statements, compiled once per SQL text (preparing costs more than running). */
  private readonly statements = new Map<string, Database.Statement>();

  /**
   * One transaction function for every write, given the work as its argument: better-sqlite3
   * builds four wrapped functions per `db.transaction(fn)`, ~10 µs a call on the ledger's
   * hottest path. Nested calls become savepoints, as they would with a new one.
   */
  private readonly tx: Database.Transaction<(fn: () => unknown) => unknown>;

  private constructor(
    readonly db: Database.Database,
    readonly path: string,
  ) {
    this.tx = db.transaction((fn: () => unknown) => fn());
  }

  /** Open (creating) the database and apply `migrations` it has not seen (PRAGMA user_version). */
  static open(path: string, migrations: string[]): SqliteDb {
    mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: 10_000 });
      // 1 KB pages for a new ledger (an existing one keeps its own): each write transaction
      // copies every page it changes into the WAL, and the ledger's rows are small, so a run
      // writes a quarter of the bytes (measured: 10-20 % more runs per second than 4 KB pages).
      db.pragma("page_size = 1024");
      // Switching a new file to WAL can answer SQLITE_BUSY at once (no busy wait) while another
      // process creating the same ledger holds its lock: retry for the same 10 s.
      retryBusy(() => db.pragma("journal_mode = WAL"));
      db.pragma("synchronous = NORMAL");
      // A checkpoint (copying the WAL into the file, then a flush) every 10,000 pages written
      // instead of 1,000: a long-running writer (a batch, a gateway) stalls on a flush a tenth as
      // often (~1 in 800 runs), for a WAL of up to 10 MB (40 MB on 4 KB pages). Closing the last
      // connection still checkpoints and removes it, so a command leaves none behind.
      db.pragma("wal_autocheckpoint = 10000");
      // Each step re-checks the version under the write lock: several processes opening a new
      // ledger at once must not run the same migration twice.
      const step = db.transaction(() => {
        const v = db.pragma("user_version", { simple: true }) as number;
        if (v >= migrations.length) return false;
        db.exec(migrations[v]!);
        db.pragma(`user_version = ${v + 1}`);
        return true;
      });
      while (step.immediate()) {
        /* next migration */
      }
    } catch (err) {
      throw explain(err, path);
    }
    return new SqliteDb(db, path);
  }

  sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) this.statements.set(text, (st = this.db.prepare(text)));
    return st;
  }

  run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      // Only SQLite's own failures are the ledger's; anything else keeps its identity.
      if (err instanceof LanesError || !String((err as { code?: unknown }).code ?? "").startsWith("SQLITE")) throw err;
      throw explain(err, this.path);
    }
  }

  /** Run `fn` in one write transaction (nested calls become savepoints). */
  atomically<T>(fn: () => T): T {
    return this.run(() => this.tx.immediate(fn) as T);
  }

  close(): void {
    this.db.close();
  }
}

function retryBusy(fn: () => unknown, ms = 10_000): void {
  const until = Date.now() + ms;
  for (;;) {
    try {
      fn();
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== "SQLITE_BUSY" || Date.now() > until) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // a synchronous 20 ms pause
    }
  }
}

function explain(err: unknown, path: string): LanesError {
  const code = (err as { code?: string }).code ?? "";
  if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT")
    return new LanesError("usage", `the ledger at ${path} is not a readable SQLite database (${code})`, {
      hint: "it was left untouched; move it aside (it holds your records) and lanes starts a new one",
      cause: err,
    });
  if (code === "SQLITE_BUSY" || code === "SQLITE_LOCKED")
    return new LanesError("store", `the ledger at ${path} stayed locked by another process for 10 s`, {
      hint: "wait for the other lanes process, or check for a stuck one",
      cause: err,
    });
  return new LanesError("usage", `the ledger at ${path} failed: ${(err as Error).message}`, { cause: err });
}
