/**
 * The composition root: the one module that picks the concrete adapters behind the ports
 * (core/ports.ts) — the SQLite ledger and its audit trail in LANES_HOME, OpenAI-compatible
 * endpoints, Docker hosts. Commands get them here; the use cases in src/app only see the ports.
 */
import { join } from "node:path";
import type { Config } from "../adapters/config/schema.js";
import { dataDir } from "../adapters/config/paths.js";
import { dockerHosts, dockerImages } from "../adapters/docker/hosts.js";
import { ownerIsDead } from "../adapters/owner.js";
import { OpenAIEndpoint } from "../adapters/models/openai-endpoint.js";
import { AuditLog, currentActor } from "../adapters/store/audit.js";
import type { Ledger } from "../adapters/store/ledger.js";
import { endpointSpecs } from "../app/endpoints.js";
import type { Adapters } from "../app/ports.js";
import type { ModelEndpoint } from "../core/ports.js";

/**
 * The store: a SQLite ledger, or the team's PostgreSQL server when the org policy, LANES_STORE_URL
 * or user settings name one (store-location.ts). Loaded lazily: not every command needs it.
 */
export async function openLedger(): Promise<Ledger> {
  const [{ Ledger }, { storeLocation }, { fetchPolicies }] = await Promise.all([
    import("../adapters/store/ledger.js"),
    import("../adapters/config/store-location.js"),
    import("../adapters/config/policy.js"),
  ]);
  // An org policy at a URL may name the store: the one loading configuration fetched is reused.
  const fetched = process.env.LANES_POLICY ? await fetchPolicies(process.env) : undefined;
  const ledger = await Ledger.openAt((await storeLocation(process.env, fetched)).where);
  recoverCrashed(ledger);
  return ledger;
}

/**
 * A run whose process was killed (kill -9, a cancelled CI job) left its hold open: settle it at
 * its worst case now — its lane slot is free again — list the run as `crashed`, and audit it.
 */
function recoverCrashed(ledger: Ledger): void {
  const crashed = ledger.settleCrashed(ownerIsDead);
  if (!crashed.length) return;
  const audit = openAudit(ledger);
  for (const c of crashed) {
    if (!ledger.runStore.find(c.runId))
      ledger.runStore.save({
        id: c.runId,
        createdAt: c.createdAt,
        lane: c.lane,
        tier: c.meta?.tier ?? "?",
        task: c.meta?.task ?? "",
        status: "crashed",
        check: "unchecked",
        costUsd: c.chargedUsd,
        p90Usd: c.meta?.p90Usd ?? null,
        capUsd: c.meta?.capUsd ?? c.chargedUsd,
        steps: 0,
        durationMs: Date.now() - c.createdAt,
        holdId: c.holdId,
        dir: c.meta?.dir ?? "",
        tokens: 0,
        unpriced: false,
        overageUsd: 0,
      });
    audit.append({
      action: "settle",
      runId: c.runId,
      inputs: { holdId: c.holdId },
      outcome: {
        status: "crashed",
        chargedUsd: c.chargedUsd,
        reason: "its lanes process died; charged its worst case",
      },
    });
  }
}

/** The audit trail, anchored in `ledger` (its head is stored there with every append). */
export function openAudit(ledger: Ledger, user?: string): AuditLog {
  const stored = ledger.auditLines();
  // A shared store keeps the trail with its head: the path names where, for messages.
  return new AuditLog(stored ? ledger.path : auditPath(), ledger, currentActor(process.env, user), undefined, stored);
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
  images: (config) => dockerImages(config),
};
