// Appends N records to the audit log at PATH (anchored in the ledger at DB, a file or a
// postgres:// URL whose store then keeps the records too), racing other processes.
import { AuditLog } from "../../dist/adapters/store/audit.js";
import { Ledger } from "../../dist/adapters/store/ledger.js";

const [path, db, n] = process.argv.slice(2);
const ledger = await Ledger.openAt(db);
const log = new AuditLog(path, ledger, { user: `w${process.pid}`, host: "test" }, undefined, ledger.auditLines());
for (let i = 0; i < Number(n); i++)
  log.append({ action: "charge", runId: `r${process.pid}`, outcome: { i, padding: "x".repeat(2000) } });
ledger.close();
