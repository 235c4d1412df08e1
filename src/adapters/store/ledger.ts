/**
 * The ledger: one SQLite file in the data directory, safe across processes, holding four stores —
 * holds and buckets (hold-store.ts, which the Ledger is), finished runs, batches, and estimate
 * history — plus the audit trail's anchored head (audit.ts). A hold whose process died is charged
 * its worst case when it expires (checked every time the ledger opens), never released to zero.
 */
import { BatchStore } from "./batch-store.js";
import { HistoryStore } from "./history-store.js";
import { HoldStore } from "./hold-store.js";
import type { AuditHead, Store } from "../../core/ports.js";
import { MIGRATIONS } from "./ledger-schema.js";
import { RunStore } from "./run-store.js";
import { SqliteDb } from "./sqlite.js";
import type { Db } from "./db.js";
import type { AuditLines } from "./audit.js";

export type { Amounts, BatchTaskRow, HistoryRow, Hold, HoldState, HoldUnit, RunRow } from "../../core/ports.js";
export { HoldExhausted } from "./hold-store.js";

export class Ledger extends HoldStore implements Store {
  readonly runStore: RunStore;
  readonly batchStore: BatchStore;
  readonly historyStore: HistoryStore;

  private constructor(readonly db: Db) {
    super(db);
    this.runStore = new RunStore(db);
    this.batchStore = new BatchStore(db);
    this.historyStore = new HistoryStore(db);
  }

  /** A SQLite file (one person), or a PostgreSQL server for `postgres://…` (a team). */
  static open(path: string): Ledger {
    const ledger = new Ledger(SqliteDb.open(path, MIGRATIONS));
    ledger.expire();
    return ledger;
  }

  static async openAt(where: string): Promise<Ledger> {
    if (!/^postgres(ql)?:\/\//.test(where)) return Ledger.open(where);
    const [{ PgDb }, { PG_MIGRATIONS }] = await Promise.all([import("./pg-db.js"), import("./pg-schema.js")]);
    const ledger = new Ledger(PgDb.open(where, PG_MIGRATIONS));
    ledger.expire();
    return ledger;
  }

  get path(): string {
    return this.db.path;
  }

  close(): void {
    this.db.close();
  }

  /** Run `fn` in one write transaction (nested calls become savepoints). */
  atomically<T>(fn: () => T): T {
    return this.db.atomically(fn);
  }

  /** A shared store keeps the audit records with their head; a SQLite ledger leaves them in a file. */
  auditLines(): AuditLines | undefined {
    if (this.db.kind !== "postgres") return undefined;
    return {
      append: (seq, line) => this.db.sql("INSERT INTO audit_records (seq, line) VALUES (?, ?)").run(seq, line),
      all: () =>
        (this.db.sql("SELECT line FROM audit_records ORDER BY seq").all() as { line: string }[]).map((r) => r.line),
    };
  }

  auditHead(): AuditHead | undefined {
    return this.db.sql("SELECT seq, hash FROM audit_head WHERE id = 1").get() as AuditHead | undefined;
  }

  setAuditHead(head: AuditHead): void {
    this.db
      .sql(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
      )
      .run(head.seq, head.hash);
  }
}
