/**
 * The one source of truth for lanes' configuration: lanes.yaml, user settings, environment and
 * flags are merged and then parsed by `configSchema`. Every object is strict (an unknown key is an
 * error, with a "did you mean" from load.ts); nested objects use `prefault` so their own field
 * defaults apply when a layer omits them.
 */
import { z } from "zod";
import { closest } from "./suggest.js";
import { isLoopbackHost } from "./loopback.js";

export const COST_CLASSES = ["C0", "C1", "C2", "C3", "C4"] as const;
export type CostClassId = (typeof COST_CLASSES)[number];

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a name of letters, digits, '.', '_' or '-'");
const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, "a duration such as 500ms, 30s, 15m, 2h or 1d");
const positiveInt = z.number().int().positive();
const usd = z.number().nonnegative();

/** Prices per million tokens (hosted) or per GPU hour (local). Absent = look up the price table. */
export const priceSchema = z.strictObject({
  inputPerMTok: usd.optional(),
  cachedInputPerMTok: usd.optional(),
  outputPerMTok: usd.optional(),
  /** Local tiers: cost of an hour of GPU time; turned into cost through projected GPU seconds. */
  gpuHourUsd: usd.optional(),
});

export const endpointSchema = z
  .strictObject({
    id: name,
    /** OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1 for llama-server. */
    baseURL: z.url({ error: "a URL such as http://127.0.0.1:8080/v1" }),
    model: z.string().min(1),
    /** Name of the environment variable holding the API key. Keys are never stored in files. */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, "an environment variable name such as OPENAI_API_KEY")
      .optional(),
    price: priceSchema.optional(),
    contextWindow: positiveInt.optional(),
    /** Measured speeds of this endpoint (local tiers: what GPU time is projected from) until history has its own. */
    speeds: z
      .strictObject({ promptTokensPerSecond: z.number().positive(), completionTokensPerSecond: z.number().positive() })
      .optional(),
    /** The same, short: `speed: { promptTps, completionTps }`. */
    speed: z.strictObject({ promptTps: z.number().positive(), completionTps: z.number().positive() }).optional(),
    maxOutputTokens: positiveInt.optional(),
    rpm: positiveInt.optional(),
    tpm: positiveInt.optional(),
    timeout: duration.default("120s"),
    /** Endpoint ids to fail over to, only within the same or a cheaper cost class. */
    fallbacks: z.array(name).default([]),
    /**
     * What else the endpoint speaks besides Chat Completions: `responses` (OpenAI's Responses
     * API) or `messages` (Anthropic's). An external agent that speaks it is passed through
     * unchanged by the gateway; everything else is translated to Chat Completions.
     */
    api: z.enum(["chat", "responses", "messages"]).default("chat"),
  })
  .refine((e) => !(e.speed && e.speeds), { message: "set `speed` or `speeds`, not both", path: ["speed"] })
  .refine((e) => !e.baseURL.startsWith("http:") || isLoopbackUrl(e.baseURL), {
    message: "plain http only on loopback (127.0.0.1, ::1, localhost): use https for any other host",
    path: ["baseURL"],
  });

export const tierSchema = z.strictObject({
  /** `local` tiers run on your own hardware (llama.cpp); `hosted` tiers are paid APIs. */
  kind: z.enum(["local", "hosted"]).optional(),
  description: z.string().optional(),
  endpoints: z.array(endpointSchema).default([]),
});

/** A lane's or task template's setup: see setup-step.ts. */
export const setupSchema = z.strictObject({
  commands: z.array(z.string().min(1)).min(1),
  /** Files whose content keys the cache (lockfiles, manifests). */
  key: z.array(z.string()).default([]),
  /** Workspace paths the setup makes, kept in the cache. */
  paths: z.array(z.string().regex(/^[^/].*$/, "a path inside the repository")).default(["node_modules"]),
  timeout: duration.default("10m"),
});

export const laneSchema = z.strictObject({
  description: z.string().optional(),
  /** Tiers in cascade order: the first is tried first, the next ones are escalations. */
  tiers: z.array(name).min(1),
  /** Sandbox profile name. */
  sandbox: name.default("default"),
  budget: z
    .strictObject({
      capUsd: z.number().positive().default(1),
      /** Tokens (prompt + completion) a run may use on an unpriced tier (see allowUnpriced). */
      capTokens: positiveInt.default(200_000),
    })
    .prefault({}),
  approval: z
    .strictObject({
      /** auto: allow up to `autoApproveUpTo`, ask above; ask: always ask; always: ask and never accept --yes. */
      mode: z.enum(["auto", "ask", "always"]).default("auto"),
      autoApproveUpTo: z.enum(COST_CLASSES).default("C1"),
    })
    .prefault({}),
  /** Who runs the task: lanes' own loop (default) or an external agent behind the model gateway (codex). */
  agent: z.enum(["lanes", "codex", "claude"]).optional(),
  /** What happens when an attempt fails and a next tier exists. */
  escalation: z.enum(["ask", "allow", "never"]).default("ask"),
  /** false forbids hosted tiers in this lane (e.g. regulated). */
  allowHosted: z.boolean().default(true),
  /** true lets a tier without a price run, metered in tokens against budget.capTokens. */
  allowUnpriced: z.boolean().default(false),
  /** A patch that edits lanes.yaml, .lanes/ or CI configuration: ask (default), deny, or allow with --yes in CI. */
  policyEdits: z.enum(["allow", "ask", "deny"]).default("ask"),
  limits: z
    .strictObject({
      steps: positiveInt.default(30),
      wallTime: duration.default("20m"),
      commandTimeout: duration.default("2m"),
    })
    .prefault({}),
  concurrency: positiveInt.default(4),
  schedule: z
    .strictObject({
      window: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/, "a window such as 22:00-06:00"),
      // Only UTC for now: a window is "HH:MM-HH:MM" in UTC.
      timezone: z.literal("UTC").default("UTC"),
    })
    .optional(),
  /** Command run in the sandbox after the agent finishes; its exit status decides success. */
  check: z.string().optional(),
  /**
   * Commands run in the sandbox before the agent starts (npm ci, pip install …), with egress only
   * to the allowlist; what they make (`paths`) is cached per repository, profile and `key` files.
   */
  setup: setupSchema.optional(),
  audit: z.enum(["standard", "full"]).default("standard"),
});

export const budgetSchema = z.strictObject({
  scope: z.enum(["user", "team", "project", "lane", "global"]),
  /** The user, team, project or lane this bucket is for; omitted = the current one. */
  id: z.string().optional(),
  period: z.enum(["day", "week", "month"]),
  unit: z.enum(["usd", "gpu_seconds", "sandbox_seconds"]).default("usd"),
  limit: z.number().nonnegative(),
  /** soft: above it lanes asks; hard: above it lanes denies. */
  kind: z.enum(["soft", "hard"]).default("hard"),
});

export const profileSchema = z.strictObject({
  host: name.default("local"),
  image: z.string().min(1).default("lanes-sandbox:latest"),
  cpus: z.number().positive().default(1),
  memory: z
    .string()
    .regex(/^\d+(k|m|g)?$/i, "a size such as 512m or 2g")
    .default("1g"),
  pids: positiveInt.default(256),
  /**
   * The workspace's size: a tmpfs of this size (ENOSPC past it), counted in the sandbox's memory
   * cgroup on top of \`memory\`. \`none\` keeps the workspace on the host disk, unbounded (a relaxation).
   */
  disk: z
    .string()
    .regex(/^(\d+(k|m|g)?|none)$/i, "a size such as 2g, or none")
    .default("2g"),
  /** The OCI runtime: runc (Docker's default) or runsc (gVisor: a user-space kernel between the code and the host). */
  runtime: z.enum(["runc", "runsc"]).default("runc"),
  /**
   * none: loopback only. allowlist: only the `allow` domains, through a proxy lanes runs for the
   * sandbox (every attempt recorded). open: a per-sandbox user-defined bridge (never the default one).
   */
  network: z.enum(["none", "allowlist", "open"]).default("none"),
  allow: z
    .array(
      z
        .string()
        .regex(
          /^((\*\.)?[a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$/i,
          "a domain with an optional port (443 when none), such as registry.npmjs.org, *.example.com or git.example.com:22",
        ),
    )
    .default([]),
  /** With allowlist: add the host's npm registry and pip index (from their own configuration). */
  allowDefaults: z.boolean().default(true),
  readOnlyRoot: z.boolean().default(true),
  /** Capabilities added back after dropping ALL. */
  capAdd: z.array(z.string().regex(/^[A-Z_]+$/, "a capability such as NET_BIND_SERVICE")).default([]),
  ttl: duration.default("2h"),
  /** Warm containers kept started for fast acquisition. */
  pool: z.number().int().nonnegative().default(0),
});

export const hostSchema = z
  .strictObject({
    /** unix:///var/run/docker.sock, tcp://HOST:2376 or ssh://USER@HOST. Omitted = DOCKER_HOST or the local socket. */
    url: z
      .string()
      .regex(/^(unix|tcp|ssh|npipe):\/\//, "a Docker URL such as unix:///var/run/docker.sock or tcp://10.0.0.2:2376")
      .optional(),
    tls: z.strictObject({ ca: z.string(), cert: z.string(), key: z.string() }).optional(),
    /** Most sandboxes lanes runs on this host at once. */
    capacity: positiveInt.default(4),
  })
  // A plain TCP engine is anyone's on the network path: the workspace and gateway tokens go there.
  .refine((h) => !h.url?.startsWith("tcp://") || h.tls !== undefined || isLoopbackUrl(h.url), {
    message: "a tcp:// Docker host needs tls (ca, cert, key) unless it is on loopback",
    path: ["url"],
  });

function isLoopbackUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}

/** The org policy's own block: floors for every lane and profile, and whether other lanes may exist. */
const policyBlockSchema = z.strictObject({
  /** closed: only the lanes the org policy defines exist (built-in, user and repository lanes are refused). */
  lanes: z.enum(["open", "closed"]).default("open"),
  /** Floors for every lane, named or not (built-in, user-defined, repository-defined). */
  everyLane: laneSchema.partial().optional(),
  /** Floors for every sandbox profile, named or not (a runtime pin applies to every profile). */
  everyProfile: profileSchema.partial().optional(),
});

const baseSchema = z.strictObject({
  version: z.literal(1).default(1),
  policy: policyBlockSchema.optional(),
  /** Hosts a repository's own endpoints (without a key) may use besides loopback. */
  endpoints: z
    .strictObject({
      allowedHosts: z.array(z.string().regex(/^[a-z0-9.-]+$/i, "a host name such as llm.internal")).default([]),
    })
    .prefault({}),
  /** The shared store (org policy or user settings only): postgres://USER@HOST:PORT/DB. */
  store: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, "a PostgreSQL URL such as postgres://lanes@db.internal:5432/lanes")
    .optional(),
  defaults: z.strictObject({ lane: name.default("async"), tier: name.optional() }).prefault({}),
  identity: z
    .strictObject({
      /** A claim (shown, recorded) unless the org policy sets it: then it is who runs are charged to. */
      user: z.string().optional(),
      team: z.string().optional(),
      project: z.string().optional(),
      /** Set by loading (load.ts), never by a file: the org policy's identity.user. */
      policyUser: z.string().optional(),
    })
    .prefault({}),
  /** Upper bounds (USD, on the p90) of C1..C3; C0 is exactly $0 and C4 is everything above C3. */
  costClasses: z.strictObject({ C1: usd.default(0.1), C2: usd.default(1), C3: usd.default(10) }).prefault({}),
  tiers: z.record(name, tierSchema).default({}),
  lanes: z.record(name, laneSchema).default({}),
  budgets: z.array(budgetSchema).default([]),
  sandbox: z.strictObject({ profiles: z.record(name, profileSchema).default({}) }).prefault({}),
  hosts: z.record(name, hostSchema).default({}),
  /** Price overrides per model name, on top of the pinned price table. */
  prices: z.record(z.string(), priceSchema).default({}),
  rules: z
    .strictObject({
      quota: z
        .strictObject({ warnAt: z.number().min(0).max(1).default(0.8), askAt: z.number().min(0).max(1).default(0.95) })
        .prefault({}),
      /** A sandbox profile looser than the hardened baseline: ask a person (default) or deny. */
      relaxedSandbox: z.enum(["ask", "deny"]).default("ask"),
    })
    .prefault({}),
});

export const configSchema = baseSchema.superRefine(crossReferences, { when: () => true });

/**
 * Cross-references: every name a field points to must exist. Runs even when other fields failed
 * (`when`), so one `lanes config validate` lists every problem; hence the defensive reads.
 */
function crossReferences(value: unknown, ctx: z.core.$RefinementCtx<unknown>): void {
  const cfg = rec(value);
  const add = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
  const tiers = rec(cfg.tiers);
  const lanes = rec(cfg.lanes);
  const profiles = rec(rec(cfg.sandbox).profiles);
  const hosts = rec(cfg.hosts);
  const endpointIds = Object.values(tiers)
    .flatMap((t) => list(rec(t).endpoints).map((e) => rec(e).id))
    .filter((id): id is string => typeof id === "string");
  for (const [tierName, tier] of Object.entries(tiers)) {
    list(rec(tier).endpoints).forEach((ep, i) =>
      list(rec(ep).fallbacks).forEach((fb, j) => {
        if (typeof fb === "string" && !endpointIds.includes(fb))
          add(["tiers", tierName, "endpoints", i, "fallbacks", j], refMessage("endpoint", fb, endpointIds));
      }),
    );
  }
  for (const [laneName, lane] of Object.entries(lanes)) {
    list(rec(lane).tiers).forEach((t, i) => {
      if (typeof t === "string" && !(t in tiers))
        add(["lanes", laneName, "tiers", i], refMessage("tier", t, Object.keys(tiers)));
    });
    const profile = rec(lane).sandbox;
    if (typeof profile === "string" && !(profile in profiles))
      add(["lanes", laneName, "sandbox"], refMessage("sandbox profile", profile, Object.keys(profiles)));
  }
  for (const [profileName, profile] of Object.entries(profiles)) {
    const host = rec(profile).host;
    if (typeof host === "string" && !(host in hosts))
      add(["sandbox", "profiles", profileName, "host"], refMessage("host", host, Object.keys(hosts)));
  }
  const defaults = rec(cfg.defaults);
  if (typeof defaults.lane === "string" && !(defaults.lane in lanes))
    add(["defaults", "lane"], refMessage("lane", defaults.lane, Object.keys(lanes)));
  if (typeof defaults.tier === "string" && !(defaults.tier in tiers))
    add(["defaults", "tier"], refMessage("tier", defaults.tier, Object.keys(tiers)));
  const { C1, C2, C3 } = rec(cfg.costClasses);
  if (typeof C1 === "number" && typeof C2 === "number" && typeof C3 === "number" && !(C1 <= C2 && C2 <= C3))
    add(["costClasses"], `thresholds must grow: C1 (${C1}) <= C2 (${C2}) <= C3 (${C3})`);
}

function rec(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function refMessage(kind: string, value: string, known: string[]): string {
  const hint = closest(value, known);
  return `unknown ${kind} "${value}" (${hint ? `did you mean "${hint}"? ` : ""}expected one of: ${known.length ? known.join(", ") : "none defined"})`;
}

export type Config = z.output<typeof configSchema>;
export type Lane = Config["lanes"][string];
export type Tier = Config["tiers"][string];
export type Endpoint = Tier["endpoints"][number];
export type Profile = Config["sandbox"]["profiles"][string];
export type Host = Config["hosts"][string];
export type Budget = Config["budgets"][number];
