/**
 * Org policy values are floors: every layer above the policy (user settings, lanes.yaml, the
 * environment, flags) may only tighten them. For each value the policy sets, the merged result
 * must be as strict or stricter, by the order that key has (lower caps, stricter approval, fewer
 * tiers, ...). A key with no known order is locked: it must stay exactly as the policy says.
 */
import { canonical } from "../../core/canonical.js";
import { COST_CLASSES } from "./schema.js";
import { parseDuration, parseMemory } from "../../core/sandbox.js";
import type { PathKey } from "./locate.js";

/** Returns whether `value` is at least as strict as the policy's `floor` at `path`. */
type Order = (floor: unknown, value: unknown) => boolean;

const lower =
  (n: (v: unknown) => number): Order =>
  (floor, value) =>
    n(value) <= n(floor);
const ranked =
  (ranks: readonly string[]): Order =>
  (floor, value) =>
    ranks.indexOf(String(value)) >= ranks.indexOf(String(floor));
const num = (v: unknown) => (typeof v === "number" ? v : Number.NaN);
const safe = (f: (s: string) => number) => (v: unknown) => {
  try {
    return f(String(v));
  } catch {
    return Number.NaN; // not comparable: the floor check fails closed
  }
};
const size = safe(parseMemory);
const duration = safe(parseDuration);
const subset: Order = (floor, value) =>
  Array.isArray(floor) && Array.isArray(value) && value.every((v) => floor.includes(v));
const onlyFalse: Order = (floor, value) => floor === true || value === false;
const onlyTrue: Order = (floor, value) => floor === false || value === true;

/** Strictness by the last key of the path. */
const ORDERS: Record<string, Order> = {
  capUsd: lower(num),
  capTokens: lower(num),
  limit: lower(num),
  steps: lower(num),
  concurrency: lower(num),
  cpus: lower(num),
  pids: lower(num),
  capacity: lower(num),
  pool: lower(num),
  // Lower class thresholds put more runs in dearer classes, so they ask sooner.
  C1: lower(num),
  C2: lower(num),
  C3: lower(num),
  warnAt: lower(num),
  askAt: lower(num),
  memory: lower(size),
  disk: lower(size),
  wallTime: lower(duration),
  commandTimeout: lower(duration),
  ttl: lower(duration),
  mode: ranked(["auto", "ask", "always"]),
  autoApproveUpTo: (floor, value) => COST_CLASSES.indexOf(value as never) <= COST_CLASSES.indexOf(floor as never),
  escalation: ranked(["allow", "ask", "never"]),
  allowHosted: onlyFalse,
  allowUnpriced: onlyFalse,
  readOnlyRoot: onlyTrue,
  network: ranked(["open", "allowlist", "none"]),
  allow: subset,
  allowDefaults: onlyFalse,
  runtime: ranked(["runc", "runsc"]),
  capAdd: subset,
  audit: ranked(["standard", "full"]),
  relaxedSandbox: ranked(["ask", "deny"]),
  policyEdits: ranked(["allow", "ask", "deny"]),
};

/** Paths the floors do not govern: choosing a default lane or tier is not loosening one. */
const FREE = new Set(["defaults", "version"]);

export interface Violation {
  path: PathKey[];
  floor: unknown;
  value: unknown;
}

/** Every value in `policy` that `merged` loosens. Budgets are never loosened: they are kept (see load.ts). */
export function violations(policy: Record<string, unknown>, merged: Record<string, unknown>): Violation[] {
  const out: Violation[] = [];
  const walk = (floor: unknown, value: unknown, path: PathKey[]) => {
    if (floor !== null && typeof floor === "object" && !Array.isArray(floor)) {
      for (const [k, v] of Object.entries(floor)) walk(v, isRecord(value) ? value[k] : undefined, [...path, k]);
      return;
    }
    if (!strictEnough(path, floor, value)) out.push({ path, floor, value });
  };
  for (const [k, v] of Object.entries(policy)) if (!FREE.has(k) && k !== "budgets") walk(v, merged[k], [k]);
  return out;
}

/** Whether `value` at `path` is as strict as `floor` (a key with no known order: exactly equal). */
export function strictEnough(path: PathKey[], floor: unknown, value: unknown): boolean {
  const key = String(path[path.length - 1]);
  // A lane's `tiers` is a list to pick from (subset); the top-level `tiers` is a mapping.
  const order = key === "tiers" && path[0] === "lanes" ? subset : ORDERS[key];
  return order ? value !== undefined && order(floor, value) : canonical(floor) === canonical(value);
}

/**
 * The policy's floors for every lane and every profile (`policy.everyLane`, `policy.everyProfile`),
 * named or not, wherever defined, and `policy.lanes: closed` (only the policy's own lanes).
 */
export function everyFloorViolations(
  policy: Record<string, unknown>,
  merged: Record<string, unknown>,
): (Violation & { message?: string })[] {
  const block = isRecord(policy.policy) ? policy.policy : {};
  const out: (Violation & { message?: string })[] = [];
  const each = (floor: unknown, entities: unknown, prefix: PathKey[]) => {
    if (!isRecord(floor) || !isRecord(entities)) return;
    for (const [name, entity] of Object.entries(entities))
      out.push(
        ...violations(floor, isRecord(entity) ? entity : {}).map((v) => ({ ...v, path: [...prefix, name, ...v.path] })),
      );
  };
  each(block.everyLane, merged.lanes, ["lanes"]);
  each(block.everyProfile, isRecord(merged.sandbox) ? merged.sandbox.profiles : undefined, ["sandbox", "profiles"]);
  if (block.lanes === "closed") {
    const own = isRecord(policy.lanes) ? policy.lanes : {};
    for (const name of Object.keys(isRecord(merged.lanes) ? merged.lanes : {}))
      if (!(name in own))
        out.push({
          path: ["lanes", name],
          floor: "closed",
          value: name,
          message: `the org policy closes the set of lanes (policy.lanes: closed): lane "${name}" is not one of its own`,
        });
  }
  return out;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(describe).join(", ")}]`;
  return v === undefined ? "unset" : typeof v === "string" ? v : JSON.stringify(v);
}
