/**
 * What a repository may set. Configuration comes from three trust levels: the org policy (an
 * admin's floors), the user's own settings and environment (trusted for that user), and the
 * repository (lanes.yaml, .lanes/, templates, batch files found in it): untrusted, like the agent.
 * A repository may *select* among what the trusted layers define and *tighten* it; it may never
 * loosen, redirect (hosts, URLs, images) or name a secret.
 *
 * `TRUST` is the one table: `repoViolations` enforces it when lanes.yaml is loaded, and
 * docs/trust.md is generated from it (`node scripts/gen-trust-doc.mjs`; a test keeps them equal).
 */
import { canonical } from "../../core/canonical.js";
import { isLoopbackHost } from "./loopback.js";
import { isRecord, strictEnough } from "./floors.js";
import { valueAt, type PathKey } from "./locate.js";

/**
 * free: anything. select: a name the configuration defines (checked by the schema's references).
 * tighten: as strict or stricter than the trusted layers' value (where they set none: than the
 * floor for a repository's own lanes). define: a new value where the trusted layers set none,
 * never a change to theirs. endpoints: see `endpointProblems`. none: never from a repository.
 */
export type RepoRight = "free" | "select" | "tighten" | "define" | "endpoints" | "none";

export interface TrustRule {
  /** A dotted path; `*` is any name (a lane, a tier, a profile). */
  key: string;
  repo: RepoRight;
  why: string;
}

export const TRUST: TrustRule[] = [
  { key: "version", repo: "free", why: "the file format" },
  { key: "store", repo: "none", why: "the store holds the budgets; choosing it would lift every one" },
  { key: "defaults.lane", repo: "select", why: "which lane runs by default is a choice, not a loosening" },
  { key: "defaults.tier", repo: "select", why: "as above" },
  { key: "identity", repo: "none", why: "who is charged is the OS account or the org policy's, never a claim" },
  { key: "policy", repo: "none", why: "floors for every lane and profile are the org policy's" },
  { key: "endpoints", repo: "none", why: "the hosts a repository's endpoints may use are the user's or the policy's" },
  { key: "costClasses", repo: "tighten", why: "lower thresholds ask sooner" },
  { key: "tiers.*.kind", repo: "define", why: "a tier's kind decides how it is priced" },
  { key: "tiers.*.description", repo: "free", why: "text" },
  {
    key: "tiers.*.endpoints",
    repo: "endpoints",
    why: "a trusted endpoint by id, or one without a key on loopback (or an allowed host); never a trusted tier's",
  },
  { key: "lanes.*.description", repo: "free", why: "text" },
  { key: "lanes.*.tiers", repo: "tighten", why: "a trusted lane's tiers may only be narrowed" },
  { key: "lanes.*.sandbox", repo: "select", why: "a profile, itself under the profile floors" },
  { key: "lanes.*.agent", repo: "select", why: "every agent runs behind the same gateway and caps" },
  { key: "lanes.*.budget", repo: "tighten", why: "lower caps" },
  { key: "lanes.*.approval", repo: "tighten", why: "ask more, never less" },
  { key: "lanes.*.escalation", repo: "tighten", why: "allow < ask < never" },
  { key: "lanes.*.allowHosted", repo: "tighten", why: "only false" },
  { key: "lanes.*.allowUnpriced", repo: "tighten", why: "only false" },
  { key: "lanes.*.policyEdits", repo: "tighten", why: "allow < ask < deny" },
  { key: "lanes.*.limits", repo: "tighten", why: "fewer steps, shorter times" },
  { key: "lanes.*.concurrency", repo: "tighten", why: "fewer at once" },
  { key: "lanes.*.schedule", repo: "define", why: "a window restricts; a trusted one stays" },
  { key: "lanes.*.check", repo: "free", why: "runs in the sandbox" },
  { key: "lanes.*.setup", repo: "free", why: "runs in the sandbox, egress only to the profile's allowlist" },
  { key: "lanes.*.audit", repo: "tighten", why: "standard < full" },
  { key: "budgets", repo: "define", why: "added to the trusted budgets, never replacing them" },
  { key: "sandbox.profiles.*.host", repo: "select", why: "a host the trusted layers define" },
  {
    key: "sandbox.profiles.*.image",
    repo: "none",
    why: "images come from trusted layers (`lanes images build` tags a repository's own)",
  },
  { key: "sandbox.profiles.*.cpus", repo: "tighten", why: "less" },
  { key: "sandbox.profiles.*.memory", repo: "tighten", why: "less" },
  { key: "sandbox.profiles.*.pids", repo: "tighten", why: "fewer" },
  { key: "sandbox.profiles.*.disk", repo: "tighten", why: "smaller" },
  { key: "sandbox.profiles.*.runtime", repo: "tighten", why: "runc < runsc" },
  { key: "sandbox.profiles.*.network", repo: "tighten", why: "open < allowlist < none" },
  { key: "sandbox.profiles.*.allow", repo: "tighten", why: "a subset of the trusted allowlist" },
  { key: "sandbox.profiles.*.allowDefaults", repo: "tighten", why: "only false" },
  { key: "sandbox.profiles.*.readOnlyRoot", repo: "tighten", why: "only true" },
  { key: "sandbox.profiles.*.capAdd", repo: "tighten", why: "a subset" },
  { key: "sandbox.profiles.*.ttl", repo: "tighten", why: "shorter" },
  { key: "sandbox.profiles.*.pool", repo: "tighten", why: "fewer warm containers" },
  { key: "hosts", repo: "none", why: "a repository cannot move sandboxes (and the workspace) to another engine" },
  { key: "prices", repo: "none", why: "a lower price would lower every estimate" },
  { key: "rules", repo: "tighten", why: "ask sooner, deny more" },
];

/**
 * What a repository's own new lane may not be looser than, where no policy says more: the
 * defaults of a lane (auto-approval up to C1, escalation and policy edits asked).
 */
export const REPO_LANE_FLOOR = {
  approval: { mode: "auto", autoApproveUpTo: "C1" },
  escalation: "ask",
  policyEdits: "ask",
  allowUnpriced: false,
} as const;

export interface RepoProblem {
  path: PathKey[];
  message: string;
}

function ruleFor(path: PathKey[]): TrustRule | undefined {
  return TRUST.find((r) => {
    const parts = r.key.split(".");
    return parts.length === path.length && parts.every((p, i) => p === "*" || p === String(path[i]));
  });
}

/**
 * Every value of the repository's layer `repo` the table refuses, against `trusted` (the merged
 * built-in defaults, org policy and user settings) and `allowedHosts` (trusted hosts a
 * repository's endpoints may use besides loopback).
 */
export function repoViolations(
  repo: Record<string, unknown>,
  trusted: Record<string, unknown>,
  allowedHosts: string[],
): RepoProblem[] {
  const out: RepoProblem[] = [];
  const walk = (value: unknown, path: PathKey[]) => {
    const rule = ruleFor(path);
    if (!rule) {
      if (isRecord(value)) for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
      // Anything the table does not name is refused (fails closed): the schema may grow a key first.
      else out.push({ path, message: "a repository cannot set this (not in the table of what it may set)" });
      return;
    }
    out.push(...apply(rule, value, path, trusted, allowedHosts));
  };
  for (const [k, v] of Object.entries(repo)) walk(v, [k]);
  return out;
}

function apply(
  rule: TrustRule,
  value: unknown,
  path: PathKey[],
  trusted: Record<string, unknown>,
  allowedHosts: string[],
): RepoProblem[] {
  const refuse = (p: PathKey[], why: string) => [{ path: p, message: why }];
  const mine = valueAt(trusted, path);
  switch (rule.repo) {
    case "free":
    case "select":
      // A trusted lane's tiers are narrowed, not replaced (tighten); elsewhere any defined name.
      return [];
    case "none":
      // Restating the trusted value changes nothing (the lanes.yaml `lanes init` writes does).
      return canonical(value) === canonical(mine)
        ? []
        : refuse(path, `a repository cannot set ${path.join(".")}: ${rule.why}`);
    case "define":
      if (path[0] === "budgets" || mine === undefined) return [];
      return canonical(value) === canonical(mine)
        ? []
        : refuse(path, `a repository cannot change ${path.join(".")}, which your settings or the policy set`);
    case "endpoints":
      return endpointProblems(value, path, trusted, allowedHosts);
    case "tighten":
      return tightenProblems(value, path, trusted);
  }
}

function tightenProblems(value: unknown, path: PathKey[], trusted: Record<string, unknown>): RepoProblem[] {
  if (isRecord(value)) return Object.entries(value).flatMap(([k, v]) => tightenProblems(v, [...path, k], trusted));
  const key = String(path[path.length - 1]);
  const entity = path[0] === "lanes" || path[0] === "sandbox" ? path.slice(0, path[0] === "lanes" ? 2 : 3) : [];
  const newEntity = entity.length > 0 && valueAt(trusted, entity) === undefined;
  let floor = valueAt(trusted, path);
  let from = "your settings, the policy or the built-in defaults";
  if (newEntity) {
    // A repository's own lane: no looser than a lane's defaults; its own profile: the policy's floors only.
    floor = path[0] === "lanes" ? valueAt(REPO_LANE_FLOOR, path.slice(2)) : undefined;
    from = "the defaults of a lane";
    if (floor === undefined) return [];
  } else if (floor === undefined) return [];
  if (strictEnough(path, floor, value)) return [];
  const shown = (v: unknown) => (Array.isArray(v) ? `[${v.join(", ")}]` : String(v));
  return [
    {
      path,
      message: `a repository may only tighten ${key}: ${shown(value)} is looser than ${shown(floor)} (${from})`,
    },
  ];
}

function endpointProblems(
  value: unknown,
  path: PathKey[],
  trusted: Record<string, unknown>,
  allowedHosts: string[],
): RepoProblem[] {
  const out: RepoProblem[] = [];
  const theirs = valueAt(trusted, path);
  // An empty list ("none here": the lanes.yaml `lanes init` writes) leaves a trusted tier's alone.
  if (Array.isArray(value) && !value.length) return [];
  if (Array.isArray(theirs) && theirs.length && canonical(theirs) !== canonical(value))
    return [
      {
        path,
        message: `a repository cannot change tier ${String(path[1])}'s endpoints, which your settings or the policy set`,
      },
    ];
  if (!Array.isArray(value)) return [];
  value.forEach((ep, i) => {
    const p = [...path, i];
    if (!isRecord(ep)) return;
    if (Object.keys(ep).length === 1 && typeof ep.id === "string") return; // a trusted endpoint by id (load.ts)
    if (ep.apiKeyEnv !== undefined)
      out.push({
        path: [...p, "apiKeyEnv"],
        message:
          "a repository cannot name a key variable (it would send that secret to a URL it chose): " +
          "add the endpoint to your user settings (`lanes endpoints add`) and name it here by id",
      });
    if (typeof ep.baseURL !== "string") return;
    let host: string;
    try {
      host = new URL(ep.baseURL).hostname;
    } catch {
      return; // the schema reports a malformed URL
    }
    if (!isLoopbackHost(host) && !allowedHosts.map((h) => h.toLowerCase()).includes(host.toLowerCase()))
      out.push({
        path: [...p, "baseURL"],
        message:
          `a repository's endpoint may only be on loopback or a host in endpoints.allowedHosts ` +
          `(your settings or the policy), not ${host}`,
      });
  });
  return out;
}

/** For docs/trust.md: the table as Markdown. */
export function trustTableMarkdown(): string {
  const words: Record<RepoRight, string> = {
    free: "set freely",
    select: "select",
    tighten: "tighten",
    define: "add, never change",
    endpoints: "reference / loopback only",
    none: "nothing",
  };
  const rows = TRUST.map((r) => `| \`${r.key}\` | ${words[r.repo]} | ${r.why} |`);
  return ["| key | a repository may | why |", "| --- | --- | --- |", ...rows].join("\n");
}
