/**
 * Every container, volume and network lanes creates carries `dev.lanes.*` labels, so the reaper
 * can find exactly ours (never anyone else's) and decide which are expired or orphaned.
 * Owner is "HOST:PID" for a sandbox held by a running lanes process, "pool" for a warm pool
 * member nobody holds yet, and "detached" for `lanes sandbox up` (it lives until its TTL).
 * A pool member's owner changes when it is claimed; labels are immutable, so the container
 * name carries the current owner: lanes-<id>--<owner with ':' as '_'>.
 */

export const LABEL = {
  managed: "dev.lanes.managed",
  sandbox: "dev.lanes.sandbox",
  run: "dev.lanes.run",
  owner: "dev.lanes.owner",
  profile: "dev.lanes.profile",
  expires: "dev.lanes.expires",
  pool: "dev.lanes.pool",
} as const;

export const MANAGED_FILTER = { label: [`${LABEL.managed}=true`] };

export { ownerIsDead, selfOwner } from "../owner.js";

export function containerName(id: string, owner: string): string {
  return `lanes-${id}--${owner.replace(/[^A-Za-z0-9_.-]/g, "_")}`;
}

/** The current owner of a container: from its name (claimed pool members), else its label. */
export function ownerOf(name: string | undefined, labels: Record<string, string>): string {
  const m = /^\/?lanes-[a-z0-9]+--(.+)$/.exec(name ?? "");
  if (m && m[1] !== "pool" && m[1] !== "detached") {
    const i = m[1]!.lastIndexOf("_");
    return `${m[1]!.slice(0, i)}:${m[1]!.slice(i + 1)}`;
  }
  return m?.[1] ?? labels[LABEL.owner] ?? "unknown";
}

export interface LabelInput {
  sandboxId: string;
  runId: string;
  owner: string;
  profile: string;
  expiresAt: number;
  pool: boolean;
}

export function labelsFor(l: LabelInput): Record<string, string> {
  return {
    [LABEL.managed]: "true",
    [LABEL.sandbox]: l.sandboxId,
    [LABEL.run]: l.runId,
    [LABEL.owner]: l.owner,
    [LABEL.profile]: l.profile,
    [LABEL.expires]: String(l.expiresAt),
    [LABEL.pool]: String(l.pool),
  };
}
