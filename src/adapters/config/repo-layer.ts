/**
 * The repository's layer (lanes.yaml) on its way into the configuration: its references to
 * trusted endpoints resolved, and what the trust table (trust.ts) refuses located at file:line.
 */
import type { ConfigProblem } from "../../core/errors.js";
import { isRecord } from "./floors.js";
import { locate, type Layer } from "./locate.js";
import { configSchema } from "./schema.js";
import { repoViolations } from "./trust.js";

/**
 * A repository names a trusted endpoint by id alone (`endpoints: [{ id: hosted }]`): it stands
 * for the trusted definition, key and URL included, which the repository never sees or changes.
 */
export function resolveEndpointRefs(
  raw: Record<string, unknown>,
  trusted: Record<string, unknown>,
): Record<string, unknown> {
  const tiers = raw.tiers;
  if (!isRecord(tiers)) return raw;
  const known = new Map<string, unknown>();
  for (const t of Object.values(isRecord(trusted.tiers) ? trusted.tiers : {}))
    for (const e of isRecord(t) && Array.isArray(t.endpoints) ? t.endpoints : [])
      if (isRecord(e) && typeof e.id === "string") known.set(e.id, e);
  const out: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(tiers)) {
    if (!isRecord(t) || !Array.isArray(t.endpoints)) {
      out[name] = t;
      continue;
    }
    // "No endpoints here" (the lanes.yaml `lanes init` writes) leaves a trusted tier's endpoints alone.
    const trustedTier = isRecord(trusted.tiers) ? trusted.tiers[name] : undefined;
    if (!t.endpoints.length && isRecord(trustedTier) && Array.isArray(trustedTier.endpoints)) {
      const { endpoints: _none, ...rest } = t;
      out[name] = rest;
      continue;
    }
    const endpoints = t.endpoints.map((e) =>
      isRecord(e) && Object.keys(e).length === 1 && typeof e.id === "string" && known.has(e.id) ? known.get(e.id) : e,
    );
    out[name] = { ...t, endpoints };
  }
  return { ...raw, tiers: out };
}

/** The trusted layers with the schema's defaults filled in (what the repository is compared with). */
export function withDefaults(trusted: Record<string, unknown>): Record<string, unknown> {
  const parsed = configSchema.safeParse(trusted);
  return parsed.success ? (parsed.data as unknown as Record<string, unknown>) : trusted;
}

/** Under `policy.lanes: closed`, the built-in lanes the policy does not define are gone. */
export function closeLanes(layers: Layer[]): void {
  const closing = layers.filter((l) => l.policy && isRecord(l.raw.policy) && l.raw.policy.lanes === "closed");
  if (!closing.length) return;
  const own = new Set(closing.flatMap((l) => Object.keys(isRecord(l.raw.lanes) ? l.raw.lanes : {})));
  const builtin = layers[0]!;
  const lanes = { ...(builtin.raw.lanes as Record<string, unknown>) };
  for (const name of Object.keys(lanes)) if (!own.has(name)) delete lanes[name];
  builtin.raw = { ...builtin.raw, lanes };
}

/** What the repository's lanes.yaml sets that the trust table (trust.ts) refuses, located. */
export function repoProblems(repo: Layer, trusted: Record<string, unknown>): ConfigProblem[] {
  const allowed = isRecord(trusted.endpoints) ? trusted.endpoints.allowedHosts : undefined;
  return repoViolations(repo.raw, trusted, Array.isArray(allowed) ? allowed.map(String) : []).map((v) => ({
    file: repo.source,
    ...locate(repo, v.path, true),
    path: v.path.join("."),
    message: v.message,
  }));
}
