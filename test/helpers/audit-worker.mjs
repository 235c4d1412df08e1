// Appends N records to the audit log at PATH, racing other processes doing the same.
import { AuditLog } from "../../dist/adapters/store/audit.js";

const [path, n] = process.argv.slice(2);
const log = new AuditLog(path, { user: `w${process.pid}`, host: "test" });
for (let i = 0; i < Number(n); i++) log.append({ action: "charge", runId: `r${process.pid}`, outcome: { i, padding: "x".repeat(2000) } });
