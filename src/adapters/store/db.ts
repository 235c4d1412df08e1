/**
 * What the ledger's stores need of a database: statements with `?` parameters, and write
 * transactions that are serialised against every other writer (on SQLite the file's write lock;
 * on PostgreSQL a transaction-level advisory lock), nested calls becoming savepoints. Both
 * SqliteDb (a file, one person) and PgDb (a server, a team) provide it, synchronously.
 */
export interface Statement {
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): unknown;
}

export interface Db {
  /** The file, or the server's URL without its password: what messages name. */
  readonly path: string;
  readonly kind: "sqlite" | "postgres";
  sql(text: string): Statement;
  atomically<T>(fn: () => T): T;
  /** A commit did not wait for the disk (PostgreSQL's reservations and settlements): close waits. */
  committedLater?(): void;
  close(): void;
}
