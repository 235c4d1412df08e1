/** The ledger and the audit trail in the data directory (LANES_HOME). */
import { join } from "node:path";
import { dataDir } from "../adapters/config/paths.js";
import { AuditLog, currentActor } from "../adapters/store/audit.js";
import type { Ledger } from "../adapters/store/ledger.js";

export async function openLedger(): Promise<Ledger> {
  const { Ledger } = await import("../adapters/store/ledger.js");
  return Ledger.open(join(dataDir(), "ledger.db"));
}

/** The audit trail, anchored in `ledger` (its head is stored there with every append). */
export function openAudit(ledger: Ledger, user?: string): AuditLog {
  return new AuditLog(auditPath(), ledger, currentActor(process.env, user));
}

export function auditPath(): string {
  return join(dataDir(), "audit.jsonl");
}
