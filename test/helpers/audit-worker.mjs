// Appends N records to the audit log at PATH (anchored in the ledger at DB), racing other processes.
import { AuditLog } from "../../dist/adapters/store/audit.js";
import { Ledger } from "../../dist/adapters/store/ledger.js";

const [path, db, n] = process.argv.slice(2);
const ledger = Ledger.open(db);
const log = new AuditLog(path, ledger, { user: `w${process.pid}`, host: "test" });
for (let i = 0; i < Number(n); i++)
  log.append({ action: "charge", runId: `r${process.pid}`, outcome: { i, padding: "x".repeat(2000) } });
ledger.close();
