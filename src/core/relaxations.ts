/**
 * Sandbox relaxations: how a profile is looser than the hardened baseline (no network, read-only
 * root, no capabilities added back, and the built-in resource limits). Each one is shown in the
 * plan with where it was set, and decided by policy (`sandbox.relaxed`).
 */
import { parseMemory } from "./sandbox.js";

export interface ProfileFacts {
  network: "none" | "allowlist" | "open";
  readOnlyRoot: boolean;
  capAdd: string[];
  cpus: number;
  memory: string;
  disk: string;
  pids: number;
}

export interface Relaxation {
  /** The profile field, e.g. `capAdd`. */
  field: keyof ProfileFacts;
  value: string;
  baseline: string;
  /** Where it was set ("lanes.yaml:12", "built-in defaults"), filled in by the caller. */
  source?: string;
}

export const HARDENED: ProfileFacts = {
  network: "none",
  readOnlyRoot: true,
  capAdd: [],
  cpus: 1,
  memory: "1g",
  disk: "2g",
  pids: 256,
};

export function relaxationsOf(p: ProfileFacts, base: ProfileFacts = HARDENED): Relaxation[] {
  const out: Relaxation[] = [];
  const add = (field: keyof ProfileFacts, value: string, baseline: string) => out.push({ field, value, baseline });
  if (p.network !== base.network) add("network", p.network, base.network);
  if (p.readOnlyRoot !== base.readOnlyRoot) add("readOnlyRoot", String(p.readOnlyRoot), String(base.readOnlyRoot));
  const extra = p.capAdd.filter((c) => !base.capAdd.includes(c));
  if (extra.length) add("capAdd", extra.join(", "), base.capAdd.join(", ") || "none");
  if (p.cpus > base.cpus) add("cpus", String(p.cpus), String(base.cpus));
  if (parseMemory(p.memory) > parseMemory(base.memory)) add("memory", p.memory, base.memory);
  const disk = (d: string) => (d === "none" ? Infinity : parseMemory(d));
  if (disk(p.disk) > disk(base.disk))
    add("disk", p.disk === "none" ? "none (host disk, unbounded)" : p.disk, base.disk);
  if (p.pids > base.pids) add("pids", String(p.pids), String(base.pids));
  return out;
}

export function describeRelaxation(r: Relaxation): string {
  return `${r.field}: ${r.value} (hardened: ${r.baseline})${r.source ? ` set in ${r.source}` : ""}`;
}
