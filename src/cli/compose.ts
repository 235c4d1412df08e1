/**
 * The composition root: the one module that picks the concrete adapters behind the ports
 * (core/ports.ts) — the SQLite ledger and its audit trail in LANES_HOME, OpenAI-compatible
 * endpoints, Docker hosts. Commands get them here; the use cases in src/app only see the ports.
 */
import { join } from "node:path";
import type { Config } from "../adapters/config/schema.js";
import { dataDir } from "../adapters/config/paths.js";
import { dockerHosts } from "../adapters/docker/hosts.js";
import { OpenAIEndpoint } from "../adapters/models/openai-endpoint.js";
import { AuditLog, currentActor } from "../adapters/store/audit.js";
import type { Ledger } from "../adapters/store/ledger.js";
import { endpointSpecs } from "../app/endpoints.js";
import type { Adapters } from "../app/ports.js";
import type { ModelEndpoint } from "../core/ports.js";

/** The store: a SQLite ledger (loaded lazily: better-sqlite3 is not needed by every command). */
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

export function buildEndpoints(config: Config, env = process.env): Map<string, ModelEndpoint> {
  return new Map(endpointSpecs(config).map((s) => [s.id, new OpenAIEndpoint(s, env)]));
}

/** Everything a use case reaches the world through. */
export const adapters: Adapters = {
  endpoints: (config) => buildEndpoints(config),
  hosts: (config) => dockerHosts(config),
};
