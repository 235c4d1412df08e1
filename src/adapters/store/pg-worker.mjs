// The PostgreSQL side of PgDb (pg-db.ts): runs in a worker thread, where `pg` is asynchronous as
// it must be, while the ledger's stores call it synchronously through synckit. One client per
// PgDb; failures come back as values (an Error's own properties do not cross the thread).
import pg from "pg";
import { runAsWorker } from "synckit";

// BIGINT (epoch milliseconds, counts) and NUMERIC (sums) as numbers, like SQLite gives them.
pg.types.setTypeParser(20, Number);
pg.types.setTypeParser(1700, Number);

const clients = new Map();

runAsWorker(async (op) => {
  try {
    if (op.op === "open") {
      const client = new pg.Client({
        connectionString: op.url,
        connectionTimeoutMillis: op.timeoutMs,
        query_timeout: op.timeoutMs,
        application_name: "lanes",
      });
      // A lost connection is reported by the next query; without a listener it would crash.
      client.on("error", () => {});
      await client.connect();
      clients.set(op.id, client);
      return { ok: true };
    }
    const client = clients.get(op.id);
    if (op.op === "close") {
      clients.delete(op.id);
      await client?.end().catch(() => {});
      return { ok: true };
    }
    if (!client) return { error: { message: "not connected", code: "LANES_CLOSED" } };
    const r = await client.query(op.sql, op.params);
    return { rows: r.rows, rowCount: r.rowCount ?? 0 };
  } catch (err) {
    return { error: { message: err.message, code: err.code ?? "" } };
  }
});
